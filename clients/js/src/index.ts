// @wshub/client: the client of a wshub server, for browsers and Node 20+.
// It implements docs/protocol.md of the wshub repository: reconnects with
// backoff, rejoins and recovers rooms with the cursors it kept, matches
// requests with replies (both directions), and reports presence events.

/** The part of the WebSocket API the client uses (the browser's, Node's
 * global one, or the `ws` package's). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** A WebSocket constructor: `WebSocket`, or `ws`'s default export. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The connection's state. */
export type State = "connecting" | "connected" | "disconnected" | "reconnecting" | "closed";

/** What the "state" event reports. */
export interface StateChange {
  state: State;
  /** The close code, for "disconnected" and "closed". */
  code?: number;
  /** The close reason the server gave, for "disconnected" and "closed". */
  reason?: string;
  /** For "reconnecting": milliseconds until the next attempt. */
  delay?: number;
  /** For "reconnecting": consecutive attempts that failed so far. */
  attempt?: number;
}

/** Whether a room's messages were recovered after a reconnect. */
export interface Recovery {
  room: string;
  /** True: every message after the kept cursor arrived; keep the state. */
  recovered: boolean;
  /** How many missed messages the server sent again. */
  replayed: number;
  /** Why not, when recovered is false: the server's reason (epoch,
   * expired, ahead, unavailable, overflow), or "no_cursor" for a room of
   * which the client had received no message with a cursor. */
  reason?: string;
}

/** A user arriving in a room or leaving it. */
export interface PresenceEvent {
  room: string;
  event: "join" | "leave";
  user?: string;
  client?: string;
  node?: string;
  info?: unknown;
  /** Unix milliseconds. */
  at: number;
}

/** Where a message came from: set for the messages of history rooms. */
export interface MessageMeta {
  room?: string;
  cursor?: string;
}

/** Options of a Client; every one has a default. */
export interface ClientOptions {
  /** The WebSocket implementation; default the global WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** First reconnect delay cap, ms (default 250). */
  minDelay?: number;
  /** Largest reconnect delay cap, ms (default 10000). */
  maxDelay?: number;
  /** After 1001, 1012 or 1013 (a node draining or restarting), the next
   * attempt comes at a random moment within this many ms (default 2000). */
  goingAwayWindow?: number;
  /** False waits the whole delay instead of a random part of it (full
   * jitter); only for measuring what jitter saves. Default true. */
  jitter?: boolean;
  /** Default request timeout, ms (default 10000). */
  timeout?: number;
  /** Event names of room joins and leaves (default "join", "leave"). */
  joinEvent?: string;
  leaveEvent?: string;
  /** Builds the object sent for an event; the client adds "id" to
   * requests. Default: {type: event, ...data} for an object, else
   * {type: event, data}. */
  frame?: (event: string, data: unknown) => Record<string, unknown>;
  /** Says whether to reconnect after a close with code 4000-4999 (the
   * application's codes). Default: never. 1008 never reconnects. */
  retryAppCode?: (code: number, reason: string) => boolean;
  /** On a hole in a history room's offsets, reconnect to recover the
   * missing messages, instead of reporting it (an "error" event, code
   * "gap") and going on. A hole comes from messages the server's queue for
   * this client dropped, or from a broadcast that skipped this client, and
   * recovering replays the latter too. Default false. */
  reconnectOnGap?: boolean;
  /** Random numbers in [0, 1) for the jitter; default Math.random. */
  random?: () => number;
}

/** A request that failed: the server's error code and message, or one of
 * "timeout", "disconnected", "closed", "aborted". */
export class RequestError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "RequestError";
    this.code = code;
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** The frame, until it is sent; sent requests fail on a disconnect. */
  frame?: string;
  done?: () => void;
}

interface Room {
  data: unknown;
  /** The server confirmed a join: reconnects join again. */
  joined?: boolean;
  epoch?: string;
  offset?: bigint;
}

type Listener = (...args: any[]) => void;

const OPEN = 1;
/** A cursor: "<epoch>:<offset>". */
const CURSOR = /^([0-9A-Za-z_-]{1,64}):([1-9][0-9]{0,19})$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A client of a wshub server. Create it, register listeners, connect(). */
export class Client {
  /** The connection's state now. */
  state: State = "closed";
  private readonly url: string | (() => string);
  private readonly o: Required<Omit<ClientOptions, "WebSocket">> & { WebSocket?: WebSocketConstructor };
  private ws: WebSocketLike | null = null;
  private stopped = true;
  /** close() was called (or a close code said stop): requests fail. */
  private ended = false;
  private attempt = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;
  /** The connection is closing to recover a hole (reconnectOnGap): the
   * messages still arriving on it are dropped, recovered after. */
  private gapClosing = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly roomState = new Map<string, Room>();
  private readonly handlers = new Map<string, (data: unknown) => unknown>();
  private readonly listeners = new Map<string, Set<Listener>>();

  /** url is the server's WebSocket URL, or a function that returns the
   * URL of each attempt (to pick a node). */
  constructor(url: string | (() => string), options: ClientOptions = {}) {
    this.url = url;
    this.o = {
      minDelay: 250,
      maxDelay: 10000,
      goingAwayWindow: 2000,
      jitter: true,
      timeout: 10000,
      joinEvent: "join",
      leaveEvent: "leave",
      frame: (event, data) =>
        isObject(data) ? { ...data, type: event } : data === undefined ? { type: event } : { type: event, data },
      retryAppCode: () => false,
      reconnectOnGap: false,
      random: Math.random,
      ...options,
    };
  }

  /** on adds a listener and returns the function that removes it. Events:
   * "state" (StateChange), "message" (data, MessageMeta), "recovery"
   * (Recovery), "presence" (PresenceEvent), "error" (Error: protocol
   * errors the server reported, rooms that could not be joined again). */
  on(event: "state", fn: (s: StateChange) => void): () => void;
  on(event: "message", fn: (data: unknown, meta: MessageMeta) => void): () => void;
  on(event: "recovery", fn: (r: Recovery) => void): () => void;
  on(event: "presence", fn: (p: PresenceEvent) => void): () => void;
  on(event: "error", fn: (e: Error) => void): () => void;
  on(event: string, fn: Listener): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(...args);
      } catch {
        // A listener's exception is its own; the client goes on.
      }
    }
  }

  private setState(s: StateChange): void {
    this.state = s.state;
    this.emit("state", s);
  }

  /** connect opens the connection, and keeps it open until close(). */
  connect(): this {
    if (this.stopped) {
      this.stopped = this.ended = false;
      this.open();
    }
    return this;
  }

  /** close closes the connection with 1000 and stops reconnecting; pending
   * requests fail with "closed". connect() starts again. */
  close(): void {
    this.stop(1000, "");
  }

  private stop(code: number, reason: string): void {
    this.stopped = this.ended = true;
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      // No-ops rather than null: ws (Node) throws an "error" event that
      // has no listener, which closing a connecting socket emits.
      const ignore = () => {};
      ws.onclose = ws.onmessage = ws.onopen = ws.onerror = ignore;
      try {
        ws.close(1000);
      } catch {
        // already closed
      }
    }
    this.failAll(new RequestError("closed", "the client was closed"), true);
    this.setState({ state: "closed", code, reason });
  }

  private open(): void {
    const WS = this.o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new Error("wshub: no WebSocket implementation; pass one in the options");
    this.setState({ state: "connecting" });
    let url = typeof this.url === "function" ? this.url() : this.url;
    const recover: string[] = [];
    for (const [name, r] of this.roomState) {
      if (r.epoch !== undefined) recover.push("recover=" + encodeURIComponent(`${r.epoch}:${r.offset}:${name}`));
    }
    if (recover.length) url += (url.includes("?") ? "&" : "?") + recover.join("&");
    let ws: WebSocketLike;
    try {
      ws = new WS(url);
    } catch (e) {
      this.retry(1006, String(e));
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.opened();
    ws.onmessage = (ev) => this.received(ev.data);
    ws.onerror = () => {
      // The close that follows says what happened.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(ev.code, ev.reason);
    };
  }

  private opened(): void {
    this.attempt = 0;
    this.gapClosing = false;
    // Connected from now on, but told only once the rejoins and queued
    // requests are out, so that what a listener sends comes after them.
    this.state = "connected";
    // Rejoin every room; those without a cursor cannot know what they
    // missed. The answers of the others come from the server.
    for (const [name, r] of this.roomState) {
      if (!r.joined) continue; // its first join is pending: sent below
      const noCursor = r.epoch === undefined;
      this.call(this.o.joinEvent, this.joinData(name, r.data), this.o.timeout).then(
        () => {
          if (noCursor) this.emit("recovery", { room: name, recovered: false, replayed: 0, reason: "no_cursor" });
        },
        (e: Error) => {
          // Cut off or timed out: the outcome is unknown, and the next
          // connection joins again. Only the server's refusal drops it.
          if (e instanceof RequestError && ["disconnected", "closed", "timeout"].includes(e.code)) return;
          this.roomState.delete(name);
          this.emit("error", new RequestError("rejoin_failed", `rejoining room ${name}: ${e.message}`));
        },
      );
    }
    for (const [, p] of this.pending) this.flush(p);
    this.setState({ state: "connected" });
  }

  private closed(code: number, reason: string): void {
    this.failAll(new RequestError("disconnected", `connection closed (${code})`), false);
    this.setState({ state: "disconnected", code, reason });
    if (this.stopped) return;
    if (code === 1008 || (code >= 4000 && code <= 4999 && !this.o.retryAppCode(code, reason))) {
      this.stop(code, reason);
      return;
    }
    this.retry(code, reason);
  }

  private retry(code: number, _reason: string): void {
    const { jitter, random, minDelay, maxDelay, goingAwayWindow } = this.o;
    let cap: number;
    if (code === 1001 || code === 1012 || code === 1013) {
      cap = goingAwayWindow;
    } else {
      cap = Math.min(maxDelay, minDelay * 2 ** Math.min(this.attempt, 30));
    }
    this.attempt++;
    const delay = Math.round(jitter ? random() * cap : cap);
    this.setState({ state: "reconnecting", delay, attempt: this.attempt });
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.open();
    }, delay);
  }

  /** Fails the requests already sent (they may or may not have run on the
   * server, so they are never sent twice), and with all, those waiting to
   * be sent too. */
  private failAll(err: RequestError, all: boolean): void {
    for (const [id, p] of this.pending) {
      if (all || p.frame === undefined) {
        this.pending.delete(id);
        p.done?.();
        p.reject(err);
      }
    }
  }

  private received(raw: unknown): void {
    if (typeof raw !== "string") {
      this.emit("message", raw, {});
      return;
    }
    let f: unknown;
    try {
      f = JSON.parse(raw);
    } catch {
      this.emit("message", raw, {});
      return;
    }
    if (!isObject(f)) {
      this.emit("message", f, {});
      return;
    }
    const keys = Object.keys(f);
    if ("id" in f && typeof f.event === "string") {
      this.answer(f.id, f.event, f.data);
    } else if ("id" in f && keys.length === 2 && ("result" in f || "error" in f)) {
      this.reply(f);
    } else if (typeof f.room === "string" && isObject(f.recovery)) {
      const r = f.recovery;
      this.emit("recovery", {
        room: f.room,
        recovered: r.recovered === true,
        replayed: typeof r.replayed === "number" ? r.replayed : 0,
        ...(typeof r.reason === "string" ? { reason: r.reason } : {}),
      });
    } else if (typeof f.room === "string" && typeof f.cursor === "string" && "data" in f) {
      this.roomMessage(f.room, f.cursor, f.data);
    } else if (isObject(f.presence)) {
      this.emit("presence", f.presence);
    } else {
      this.emit("message", f, {});
    }
  }

  private roomMessage(name: string, cursor: string, data: unknown): void {
    if (this.gapClosing) return;
    const m = CURSOR.exec(cursor);
    const r = this.roomState.get(name);
    if (m && r) {
      const offset = BigInt(m[2]);
      if (r.epoch === m[1] && r.offset !== undefined) {
        if (offset <= r.offset) return; // seen: never deliver twice
        if (offset !== r.offset + 1n) {
          // A hole: the server's queue for this client dropped messages,
          // or a broadcast skipped it (docs/protocol.md).
          this.emit("error", new RequestError("gap", `room ${name}: messages ${r.offset + 1n} to ${offset - 1n} of ${r.epoch} did not arrive`));
          if (this.o.reconnectOnGap) {
            // Reconnect with the cursor kept, which recovers them in order.
            this.gapClosing = true;
            this.ws?.close(1000, "gap");
            return;
          }
        }
      }
      r.epoch = m[1];
      r.offset = offset;
    }
    if (isObject(data) && isObject(data.presence)) {
      this.emit("presence", data.presence);
      return;
    }
    this.emit("message", data, { room: name, cursor });
  }

  private reply(f: Record<string, unknown>): void {
    const e = f.error;
    if (f.id === null) {
      const err = isObject(e) ? e : {};
      this.emit("error", new RequestError(String(err.code ?? "error"), String(err.message ?? "")));
      return;
    }
    const p = this.pending.get(f.id as number);
    if (!p || p.frame !== undefined) return; // timed out already
    this.pending.delete(f.id as number);
    p.done?.();
    if (e === undefined) p.resolve(f.result);
    else {
      const err = isObject(e) ? e : {};
      p.reject(new RequestError(String(err.code ?? "error"), String(err.message ?? "")));
    }
  }

  private async answer(id: unknown, event: string, data: unknown): Promise<void> {
    const ws = this.ws; // the reply goes back on this connection or not at all
    const fn = this.handlers.get(event);
    let out: Record<string, unknown>;
    try {
      if (!fn) throw new RequestError("unknown_event", `no handler for ${event}`);
      out = { id, result: (await fn(data)) ?? null };
    } catch (e) {
      const code = e instanceof RequestError ? e.code : "error";
      out = { id, error: { code, message: e instanceof Error ? e.message : String(e) } };
    }
    if (this.ws === ws) this.sendFrame(JSON.stringify(out));
  }

  private sendFrame(s: string): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.state !== "connected") return false;
    ws.send(s);
    return true;
  }

  private flush(p: Pending): void {
    if (p.frame !== undefined && this.sendFrame(p.frame)) p.frame = undefined;
  }

  private call(event: string, data: unknown, timeout: number, signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.ended) {
        reject(new RequestError("closed", "the client is closed"));
        return;
      }
      if (signal?.aborted) {
        reject(new RequestError("aborted", "the request was aborted"));
        return;
      }
      this.nextId = this.nextId >= Number.MAX_SAFE_INTEGER ? 1 : this.nextId + 1;
      const id = this.nextId;
      const p: Pending = { resolve, reject, frame: JSON.stringify({ ...this.o.frame(event, data), id }) };
      const fail = (code: string, msg: string) => {
        if (this.pending.get(id) !== p) return;
        this.pending.delete(id);
        p.done?.();
        reject(new RequestError(code, msg));
      };
      p.timer = setTimeout(() => fail("timeout", `no reply to ${event} within ${timeout} ms`), timeout);
      const onAbort = () => fail("aborted", "the request was aborted");
      signal?.addEventListener("abort", onAbort);
      p.done = () => {
        clearTimeout(p.timer);
        signal?.removeEventListener("abort", onAbort);
      };
      this.pending.set(id, p);
      this.flush(p);
    });
  }

  /** request sends a request and resolves with the reply's result, or
   * rejects with a RequestError: the server's error, "timeout" (default
   * options.timeout), "aborted" (signal), "disconnected" (the connection
   * ended after the request was sent: it may have run; it is not sent
   * again), "closed". A request made while disconnected is sent once the
   * client is connected again, within its timeout. */
  request(event: string, data?: unknown, opts: { timeout?: number; signal?: AbortSignal } = {}): Promise<unknown> {
    return this.call(event, data, opts.timeout ?? this.o.timeout, opts.signal);
  }

  /** send sends a message without asking for a reply; false when not
   * connected (it is not queued). */
  send(event: string, data?: unknown): boolean {
    return this.sendFrame(JSON.stringify(this.o.frame(event, data)));
  }

  /** handle answers the server's requests for event (Client.Call on the
   * server) with fn's result; a RequestError it throws keeps its code,
   * other exceptions answer with "error". */
  handle(event: string, fn: (data: unknown) => unknown): this {
    this.handlers.set(event, fn);
    return this;
  }

  private joinData(room: string, data: unknown): unknown {
    return isObject(data) ? { ...data, room } : { room };
  }

  /** join asks the server to join room (a request of joinEvent with
   * {room, ...data}) and resolves with its result. Once joined, the
   * client joins again after every reconnect with the same data, and
   * recovers the room's missed messages from the cursor it kept ("recovery"
   * events say whether it could). */
  async join(room: string, data?: unknown, opts?: { timeout?: number }): Promise<unknown> {
    // Kept from now, so that the room's first messages, which may come
    // before the reply, set its cursor.
    const known = this.roomState.get(room);
    const r = known ?? { data };
    if (!known) this.roomState.set(room, r);
    try {
      const result = await this.call(this.o.joinEvent, this.joinData(room, data), opts?.timeout ?? this.o.timeout);
      r.data = data;
      r.joined = true;
      // The server confirmed it: the client is in the room, also if the
      // application forgot it while the answer was on its way (a server
      // that moved it out of the room before joining it again).
      this.roomState.set(room, r);
      return result;
    } catch (e) {
      if (!known && this.roomState.get(room) === r) this.roomState.delete(room);
      throw e;
    }
  }

  /** leave asks the server to leave room (a request of leaveEvent with
   * {room}); the client forgets the room at once, whatever the answer. */
  leave(room: string, opts?: { timeout?: number }): Promise<unknown> {
    this.roomState.delete(room);
    return this.call(this.o.leaveEvent, { room }, opts?.timeout ?? this.o.timeout);
  }

  /** rooms returns the rooms the client joins again after a reconnect. */
  rooms(): string[] {
    return [...this.roomState.keys()];
  }

  /** cursor returns the cursor of the last message received in room
   * ("epoch:offset"), or undefined. */
  cursor(room: string): string | undefined {
    const r = this.roomState.get(room);
    return r?.epoch === undefined ? undefined : `${r.epoch}:${r.offset}`;
  }

  /** restore makes the client join room on its next connection, with
   * data, and recover it from cursor: for a page that saved its rooms and
   * cursors (sessionStorage) and is loaded again. An invalid cursor
   * restores the room without one. */
  restore(room: string, cursor: string | undefined, data?: unknown): void {
    const m = cursor === undefined ? null : CURSOR.exec(cursor);
    this.roomState.set(room, m ? { data, joined: true, epoch: m[1], offset: BigInt(m[2]) } : { data, joined: true });
  }

  /** forget drops a room from the client's state without telling the
   * server (for an application whose server moved the client out of it). */
  forget(room: string): void {
    this.roomState.delete(room);
  }
}

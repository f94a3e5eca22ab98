import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { start, client, next, collect, until } from "./server.mjs";

const dead = "ws://127.0.0.1:1/ws"; // nothing listens: connection refused

/** messages returns the "n" (or "kick") of each message of room c got. */
function roomLog(c, room) {
  const got = [];
  c.on("message", (data, meta) => {
    if (meta.room === room) got.push(data.n ?? data.kick);
  });
  return got;
}

test("reconnects after the server restarts, rejoins, and says the history is gone", async (t) => {
  let srv = await start(t);
  const c = client(t, srv.url);
  const states = collect(c, "state");
  const log = roomLog(c, "h:r");
  c.connect();
  await c.join("h:r");
  await srv.admin("publish?room=h:r&n=3&from=1");
  await until(() => log.length === 3, 10000, "3 messages");
  assert.match(c.cursor("h:r"), /^[0-9A-Za-z_-]+:3$/);

  const recovery = next(c, "recovery");
  await srv.kill();
  srv = await start(t, ["-addr", srv.addr]); // same port, empty memory store
  const r = await recovery;
  assert.equal(r.room, "h:r");
  assert.equal(r.recovered, false, "a restarted node's memory history is new");
  assert.ok(["epoch", "ahead"].includes(r.reason), r.reason);
  assert.deepEqual(await c.request("rooms"), ["h:r"]);
  assert.deepEqual(c.rooms(), ["h:r"]);

  const seq = states.map(([, s]) => s.state);
  assert.deepEqual(seq.slice(0, 4), ["connecting", "connected", "disconnected", "reconnecting"]);
  assert.equal(seq.at(-1), "connected");
  const down = states.find(([, s]) => s.state === "disconnected")[1];
  assert.equal(down.code, 1006);
  for (const [, s] of states.filter(([, s]) => s.state === "reconnecting")) {
    assert.ok(s.delay >= 0 && s.delay <= 200, `delay ${s.delay} within the cap`);
  }
});

test("recovers the messages missed while disconnected, once each, in order", async (t) => {
  const srv = await start(t);
  let up = true;
  const c = client(t, () => (up ? srv.url : dead));
  const log = roomLog(c, "h:m");
  c.connect();
  await c.join("h:m");
  await srv.admin("publish?room=h:m&n=5&from=1");
  await until(() => log.length === 5, 10000, "5 messages");

  up = false;
  await srv.admin("kick?code=1011");
  await next(c, "state", (s) => s.state === "reconnecting");
  await srv.admin("publish?room=h:m&n=10&from=6"); // while the client is away
  up = true;
  const r = await next(c, "recovery");
  assert.deepEqual(r, { room: "h:m", recovered: true, replayed: 10 });
  assert.deepEqual(log, Array.from({ length: 15 }, (_, i) => i + 1));
  await srv.admin("publish?room=h:m&n=1&from=16");
  await until(() => log.length === 16, 10000, "the live message");
  assert.equal(log[15], 16);
});

test("a draining node: the client moves to the other node promptly and recovers there", async (t) => {
  const redis = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = "wshub-jstest-" + randomUUID();
  const a = await start(t, ["-node", "a", "-redis", redis, "-prefix", prefix]);
  const b = await start(t, ["-node", "b", "-redis", redis, "-prefix", prefix]);
  let target = a.url;
  const c = client(t, () => target, { goingAwayWindow: 100 });
  const log = roomLog(c, "h:d");
  c.connect();
  await c.join("h:d");
  await a.admin("publish?room=h:d&n=3&from=1");
  await until(() => log.length === 3, 10000, "3 messages");

  target = dead;
  const away = next(c, "state", (s) => s.state === "disconnected");
  const retry = next(c, "state", (s) => s.state === "reconnecting");
  await a.admin("drain");
  assert.equal((await away).code, 1001);
  assert.ok((await retry).delay <= 100, "a drained client comes back within the going-away window");
  await b.admin("publish?room=h:d&n=4&from=4");
  target = b.url;
  const r = await next(c, "recovery");
  assert.deepEqual(r, { room: "h:d", recovered: true, replayed: 4 });
  assert.deepEqual(log, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal((await b.admin("stats")).clients, 1);
});

test("policy and application closes stop the client; others retry", async (t) => {
  const srv = await start(t);
  for (const [code, retry] of [
    [1008, undefined],
    [4001, undefined],
    [4002, () => true],
  ]) {
    // The server registers a connection just after its handshake answer,
    // so the kick waits until the server counts this client and only it.
    await until(async () => (await srv.admin("stats")).clients === 0, 10000, "no clients");
    const c = client(t, srv.url, retry ? { retryAppCode: retry } : {});
    const states = collect(c, "state");
    c.connect();
    await next(c, "state", (s) => s.state === "connected");
    await until(async () => (await srv.admin("stats")).clients === 1, 10000, "the client registered");
    const after = next(c, "state", (s) => s.state === "closed" || s.state === "reconnecting");
    await srv.admin(`kick?code=${code}&reason=go`);
    const s = await after;
    const want = retry ? "reconnecting" : "closed";
    assert.equal(s.state, want, `after ${code}`);
    if (!retry) {
      assert.equal(s.code, code);
      assert.equal(s.reason, "go");
      assert.equal(c.state, "closed");
      await assert.rejects(c.request("echo"), (e) => e.code === "closed");
    }
    const down = states.find(([, s]) => s.state === "disconnected")[1];
    assert.equal(down.code, code);
    c.close();
  }
});

test("backoff grows with full jitter up to the cap", async (t) => {
  const draws = [];
  const c = client(t, dead, {
    minDelay: 10,
    maxDelay: 80,
    random: () => {
      draws.push(1);
      return 0.999;
    },
  });
  const delays = [];
  c.on("state", (s) => s.state === "reconnecting" && delays.push(s.delay));
  c.connect();
  await until(() => delays.length >= 6, 10000, "6 attempts");
  c.close();
  assert.deepEqual(delays.slice(0, 6), [10, 20, 40, 80, 80, 80]);
  assert.ok(draws.length >= 6);
});

test("a hole in a room's offsets is reported, or recovered with reconnectOnGap", async (t) => {
  const srv = await start(t);
  for (const reconnectOnGap of [false, true]) {
    const room = `h:gap-${reconnectOnGap}`;
    const c = client(t, srv.url, { reconnectOnGap });
    const log = roomLog(c, room);
    c.connect();
    await c.join(room);
    await srv.admin(`publish?room=${room}&n=1&from=1`);
    await until(() => log.length === 1, 10000, "the first message");
    await c.request("sayexcept", { room, data: { n: 2 } }); // skips c: a hole
    const gap = next(c, "error", (e) => e.code === "gap");
    const recovery = reconnectOnGap ? next(c, "recovery") : null;
    await srv.admin(`publish?room=${room}&n=1&from=3`);
    assert.match((await gap).message, /messages 2 to 2 of/);
    if (reconnectOnGap) {
      assert.deepEqual(await recovery, { room, recovered: true, replayed: 2 });
      await until(() => log.length === 3, 10000, "the recovered messages");
      assert.deepEqual(log, [1, 2, 3]);
    } else {
      await until(() => log.length === 2, 10000, "the message after the hole");
      assert.deepEqual(log, [1, 3]);
      assert.equal(c.state, "connected");
    }
    c.close();
  }
});

test("close() while connecting ends quietly", async (t) => {
  // A server that accepts TCP and never answers the upgrade.
  const { createServer } = await import("node:net");
  const sockets = [];
  const mute = createServer((s) => sockets.push(s)).listen(0, "127.0.0.1");
  await new Promise((r) => mute.on("listening", r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    mute.close();
  });
  const c = client(t, `ws://127.0.0.1:${mute.address().port}/ws`);
  const states = collect(c, "state");
  c.connect();
  await until(() => sockets.length === 1, 5000, "the connection attempt");
  c.close();
  // The ws package reports the aborted handshake on the next tick; an
  // unhandled "error" there would end this process.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(states.map(([, s]) => s.state), ["connecting", "closed"]);
});

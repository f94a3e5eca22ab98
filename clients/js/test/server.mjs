// Starts the Go test server (built by `npm test`'s pretest into
// .build/testserver) and stops it when the test ends.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { Client } from "../dist/index.js";

const binary = fileURLToPath(new URL("../.build/testserver", import.meta.url));

/** start runs a test server; args are its flags. The server is killed when
 * the test ends. */
export async function start(t, args = []) {
  const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout });
  const [line] = await Promise.race([
    once(lines, "line"),
    once(proc, "exit").then(([code]) => {
      throw new Error(`testserver exited with ${code} before listening`);
    }),
  ]);
  const addr = line.replace(/^listening /, "");
  const srv = {
    proc,
    addr,
    url: `ws://${addr}/ws`,
    async admin(path) {
      const res = await fetch(`http://${addr}/admin/${path}`);
      if (!res.ok && res.status !== 204 && res.status !== 202) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.status === 200 && res.headers.get("content-type")?.includes("json") ? res.json() : null;
    },
    /** kill stops the process: SIGKILL, as a crash. */
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGKILL");
      await once(proc, "exit");
    },
  };
  t.after(() => srv.kill());
  return srv;
}

/** client makes a Client with the ws package and fast retries; it is
 * closed when the test ends. */
export function client(t, url, opts = {}) {
  const c = new Client(url, { WebSocket, minDelay: 20, maxDelay: 200, goingAwayWindow: 100, timeout: 5000, ...opts });
  t.after(() => c.close());
  return c;
}

/** next resolves with the next event of c matching pred, or rejects after
 * ms. */
export function next(c, event, pred = () => true, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event within ${ms} ms`));
    }, ms);
    const off = c.on(event, (...args) => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args.length > 1 ? args : args[0]);
    });
  });
}

/** collect records every event of c's kinds, in order. */
export function collect(c, ...events) {
  const seen = [];
  for (const e of events) c.on(e, (...args) => seen.push([e, ...args]));
  return seen;
}

/** until waits for cond() to be true, polling, or fails after ms. */
export async function until(cond, ms = 10000, what = "condition") {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

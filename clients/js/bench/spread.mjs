// Measures how 1,000 clients come back after their node drains: the
// connects per second the surviving node sees, with the client's jitter
// and without it. Run after `npm test` (which builds the test server):
//
//	node bench/spread.mjs [clients]
//
// Two test servers run on 127.0.0.1; the clients start on A, A drains
// (closing them with 1001), and they reconnect to B. B records the time of
// each upgrade; the script prints the peak connects in any 100 ms window
// (as a rate), and how long the whole return took.
import WebSocket from "ws";
import { Client } from "../dist/index.js";
import { start, until } from "../test/server.mjs";

const n = Number(process.argv[2] ?? 1000);
const cleanups = [];
const t = { after: (fn) => cleanups.push(fn) };

async function run(jitter) {
  const a = await start(t, ["-node", "a"]);
  const b = await start(t, ["-node", "b"]);
  let drained = false;
  const clients = [];
  for (let i = 0; i < n; i++) {
    const c = new Client(() => (drained ? b.url : a.url), { WebSocket, jitter, goingAwayWindow: 2000 });
    clients.push(c);
    c.connect();
  }
  await until(() => clients.every((c) => c.state === "connected"), 30000, "all connected to A");
  drained = true;
  const t0 = Date.now();
  await a.admin("drain");
  await until(async () => (await b.admin("stats")).clients === n, 30000, "all on B");
  const { connects } = await b.admin("stats");
  const buckets = new Map();
  for (const ms of connects) buckets.set(Math.floor(ms / 100), (buckets.get(Math.floor(ms / 100)) ?? 0) + 1);
  const peak = Math.max(...buckets.values()) * 10;
  const first = Math.min(...connects) - t0, last = Math.max(...connects) - t0;
  for (const c of clients) c.close();
  await a.kill();
  await b.kill();
  return { jitter, clients: n, peakPerSec: peak, firstMs: first, lastMs: last, spanMs: last - first };
}

try {
  for (const jitter of [true, false, true, false]) console.log(JSON.stringify(await run(jitter)));
} finally {
  for (const fn of cleanups) await fn();
}

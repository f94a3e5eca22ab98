import { test } from "node:test";
import assert from "node:assert/strict";
import { start, client, next, until } from "./server.mjs";

// 1,000 reconnects: the client is in its room once on each connection,
// never sends a request twice, and sees each message of the history room
// once, in order.
test("1,000 reconnects duplicate no membership, request or message", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url, { minDelay: 1, maxDelay: 5 });
  const kicks = [];
  c.on("message", (data, meta) => meta.room === "h:c" && data.kick !== undefined && kicks.push(data.kick));
  const recoveries = { ok: 0, other: [] };
  c.on("recovery", (r) => (r.recovered ? recoveries.ok++ : recoveries.other.push(r)));
  const gaps = [];
  c.on("error", (e) => gaps.push(e));
  c.connect();
  await c.join("h:c");
  // A first message gives the client a cursor: without one it could not
  // recover, and says so ("no_cursor").
  await srv.admin("publish?room=h:c&n=1");
  await until(() => c.cursor("h:c") !== undefined, 10000, "a cursor");

  const reconnects = 1000;
  const tokens = [];
  for (let i = 0; i < reconnects; i++) {
    // Two requests in flight when the server closes: one answered (count),
    // one that the close cuts off (kickme, which broadcasts {"kick":n} to
    // the room first).
    const token = `c${i}`;
    tokens.push(token);
    const counted = c.request("count", { token });
    // Each reconnect ends with the room's recovery answer (it comes after
    // the replay); the next kick waits for it.
    const recovered = next(c, "recovery");
    await assert.rejects(c.request("kickme", { room: "h:c" }), (e) => e.code === "disconnected");
    await counted;
    await recovered;
  }
  await until(() => kicks.length >= reconnects, 20000, `${reconnects} messages`);
  assert.deepEqual(kicks, Array.from({ length: reconnects }, (_, i) => i + 1));
  assert.deepEqual(c.rooms(), ["h:c"]);
  assert.deepEqual(await c.request("rooms"), ["h:c"]);
  const stats = await srv.admin("stats");
  assert.equal(Object.keys(stats.tokens).length, reconnects);
  for (const token of tokens) assert.equal(stats.tokens[token], 1, token);
  assert.equal(stats.connects.length, reconnects + 1);
  assert.equal(recoveries.other.length, 0, JSON.stringify(recoveries.other.slice(0, 3)));
  assert.equal(recoveries.ok, reconnects);
  assert.deepEqual(gaps, []);
});

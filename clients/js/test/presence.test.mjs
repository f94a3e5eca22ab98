import { test } from "node:test";
import assert from "node:assert/strict";
import { start, client, next } from "./server.mjs";

test("presence events of a room", async (t) => {
  const srv = await start(t);
  const ann = client(t, srv.url + "?user=ann");
  const events = [];
  ann.on("presence", (p) => events.push(`${p.event} ${p.user}`));
  ann.connect();
  await ann.join("p:x");
  const bob = client(t, srv.url + "?user=bob");
  bob.connect();
  const joined = next(ann, "presence", (p) => p.user === "bob" && p.event === "join");
  await bob.join("p:x");
  const p = await joined;
  assert.equal(p.room, "p:x");
  assert.equal(typeof p.at, "number");
  const left = next(ann, "presence", (p) => p.user === "bob" && p.event === "leave");
  bob.close();
  await left;
  assert.deepEqual(events, ["join ann", "join bob", "leave bob"]);
  // Presence frames of a history room carry cursors: they count for recovery.
  assert.ok(ann.cursor("p:x"));
});

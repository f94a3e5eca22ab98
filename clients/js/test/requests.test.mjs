import { test } from "node:test";
import assert from "node:assert/strict";
import { RequestError } from "../dist/index.js";
import { start, client, next, until } from "./server.mjs";

test("requests: results, errors, timeouts, aborts", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url);
  c.connect();
  await next(c, "state", (s) => s.state === "connected");

  assert.deepEqual(await c.request("echo", { data: { a: [1, "x"] } }), { a: [1, "x"] });
  assert.equal(await c.request("leave", { room: "none" }), null);

  await assert.rejects(c.request("fail"), (e) => e instanceof RequestError && e.code === "nope" && e.message === "this always fails");
  await assert.rejects(c.request("nosuch"), (e) => e.code === "invalid_message");
  await assert.rejects(c.request("slow", undefined, { timeout: 50 }), (e) => e.code === "timeout");
  const ac = new AbortController();
  const p = c.request("slow", undefined, { signal: ac.signal });
  ac.abort();
  await assert.rejects(p, (e) => e.code === "aborted");

  // Many at once, each its own answer.
  const got = await Promise.all(Array.from({ length: 200 }, (_, i) => c.request("echo", { data: i })));
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
});

test("requests made while disconnected wait for the connection", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url);
  const p = c.request("echo", { data: "early" }); // before connect: queued
  c.connect();
  assert.equal(await p, "early");
});

test("a request sent before a disconnect fails, and is not sent again", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url);
  c.connect();
  await next(c, "state", (s) => s.state === "connected");
  const p = c.request("slow");
  const token = "t-" + Math.random();
  await c.request("count", { token });
  await srv.admin("kick?code=1011");
  await assert.rejects(p, (e) => e.code === "disconnected");
  await next(c, "state", (s) => s.state === "connected");
  await c.request("count", { token: token + "-after" });
  const stats = await srv.admin("stats");
  assert.equal(stats.tokens[token], 1);
  assert.equal(stats.tokens[token + "-after"], 1);
});

test("the server asks the client", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url);
  c.handle("double", (n) => n * 2);
  c.handle("async", async (s) => {
    await new Promise((r) => setTimeout(r, 5));
    return s + "!";
  });
  c.handle("refuse", () => {
    throw new RequestError("no_way", "refused");
  });
  c.connect();
  // "ask" makes the server Call the client with event room and payload
  // data, and reply with what the client answered.
  assert.equal(await c.request("ask", { room: "double", data: 21 }), 42);
  assert.equal(await c.request("ask", { room: "async", data: "hi" }), "hi!");
  await assert.rejects(c.request("ask", { room: "refuse", data: 1 }), (e) => e.code === "no_way" && e.message === "refused");
  await assert.rejects(c.request("ask", { room: "unregistered", data: 1 }), (e) => e.code === "unknown_event");
});

test("frames that are not the protocol's reach message listeners", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url);
  c.connect();
  await c.join("plain");
  const got = next(c, "message");
  await c.request("say", { room: "plain", data: { hello: "world" } });
  const [data, meta] = await got;
  assert.deepEqual(data, { hello: "world" });
  assert.deepEqual(meta, {});
});

test("server error frames without an id are reported", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url);
  c.connect();
  await next(c, "state", (s) => s.state === "connected");
  const err = next(c, "error");
  c.ws.send('{"type":"echo","id":1.5}');
  const e = await err;
  assert.equal(e.code, "bad_request");
});

test("no WebSocket implementation is a clear error", async () => {
  const { Client } = await import("../dist/index.js");
  if (globalThis.WebSocket) return; // Node 22+: the global one is used
  assert.throws(() => new Client("ws://127.0.0.1:1/ws").connect(), /no WebSocket implementation/);
});

test("a join the server confirms keeps its room, even if forgotten meanwhile", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url);
  c.connect();
  const p = c.join("h:kept");
  c.forget("h:kept"); // as a page does when the server moves it out of a room it then joins again
  await p;
  assert.deepEqual(c.rooms(), ["h:kept"]);
});

test("a listener of connected speaks after the rejoins", async (t) => {
  const srv = await start(t);
  const c = client(t, srv.url);
  c.connect();
  await c.join("h:first");
  const seen = [];
  c.on("state", (s) => {
    // The server handles frames in order: the rooms it lists were
    // joined before this request.
    if (s.state === "connected") c.request("rooms").then((r) => seen.push(r));
  });
  await srv.admin("kick?code=1011");
  await until(() => seen.length === 1, 10000, "the rooms answer");
  assert.deepEqual(seen[0], ["h:first"]);
});

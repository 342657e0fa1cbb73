import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { DcosDns } from "./service";
import { startDcosDns, testConfig } from "./test-util";
import { parseHostPort } from "./vips-proxy";

/** A stand-in for l4lb's REST API: `/v1/vips` with an ETag (304 when it matches), `/v1/vips/detail`. */
async function fakeL4lb(): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const table = JSON.stringify([
    { vip: "minitwit.marathon.l4lb.thisdcos.directory:80", protocol: "tcp", backend: [{ ip: "10.0.0.5", port: 31000 }] },
  ]);
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers["if-none-match"] ?? "-"}`);
    if (req.url === "/v1/vips") {
      if (req.headers["if-none-match"] === '"abc"') {
        res.writeHead(304, { etag: '"abc"' });
        res.end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json", etag: '"abc"', "x-internal": "not passed" });
      res.end(table);
      return;
    }
    if (req.url === "/v1/vips/detail?x=1") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ vips: [], dataplane: { mode: "nft" } }));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end('{"error":"not_found"}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("dcos-dns /v1/vips on its REST port (passed to l4lb, as dcos-net serves it on 62080)", function () {
  this.timeout(20_000);
  let l4lb: Awaited<ReturnType<typeof fakeL4lb>>;
  let svc: DcosDns;
  let base = "";
  before(async () => {
    l4lb = await fakeL4lb();
    svc = await startDcosDns(testConfig({ l4lbRest: `127.0.0.1:${l4lb.port}` }));
    base = `http://127.0.0.1:${svc.ports().http}`;
  });
  after(async () => {
    await svc?.lifecycle.stop();
    await l4lb?.close();
  });

  it("answers l4lb's table with its ETag, and 304 for a matching If-None-Match; /v1/vips/detail with its query", async () => {
    const res = await fetch(`${base}/v1/vips`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("etag"), '"abc"');
    assert.equal(res.headers.get("x-internal"), null);
    assert.deepEqual(await res.json(), [
      { vip: "minitwit.marathon.l4lb.thisdcos.directory:80", protocol: "tcp", backend: [{ ip: "10.0.0.5", port: 31000 }] },
    ]);
    const again = await fetch(`${base}/v1/vips`, { headers: { "if-none-match": '"abc"' } });
    assert.equal(again.status, 304);
    const detail = await fetch(`${base}/v1/vips/detail?x=1`);
    assert.equal(detail.status, 200);
    assert.deepEqual(await detail.json(), { vips: [], dataplane: { mode: "nft" } });
    assert.deepEqual(l4lb.seen, ["GET /v1/vips -", 'GET /v1/vips "abc"', "GET /v1/vips/detail?x=1 -"]);
    // The DNS routes are still there.
    assert.equal((await fetch(`${base}/v1/version`)).status, 200);
  });

  it("other methods: 405 with a reason, nothing passed on", async () => {
    const n = l4lb.seen.length;
    const res = await fetch(`${base}/v1/vips`, { method: "POST", body: "{}" });
    assert.equal(res.status, 405);
    assert.match(((await res.json()) as { reason: string }).reason, /read-only/);
    assert.equal(l4lb.seen.length, n);
  });

  it("l4lb not answering: 502 with a JSON reason naming its address", async () => {
    const dead = await fakeL4lb();
    await dead.close();
    const other = await startDcosDns(testConfig({ l4lbRest: `127.0.0.1:${dead.port}` }));
    try {
      const res = await fetch(`http://127.0.0.1:${other.ports().http}/v1/vips`);
      assert.equal(res.status, 502);
      const body = (await res.json()) as { error: string; reason: string };
      assert.equal(body.error, "unavailable");
      assert.match(body.reason, new RegExp(`127\\.0\\.0\\.1:${dead.port} does not answer: ECONNREFUSED`));
    } finally {
      await other.lifecycle.stop();
    }
  });

  it('l4lb_rest "" turns the route off (404); a bad value is a config error naming the key', async () => {
    const off = await startDcosDns(testConfig({ l4lbRest: "" }));
    try {
      assert.equal((await fetch(`http://127.0.0.1:${off.ports().http}/v1/vips`)).status, 404);
    } finally {
      await off.lifecycle.stop();
    }
    assert.throws(() => testConfig({ l4lbRest: "62081" }), /l4lb_rest: must be host:port/);
    assert.deepEqual(parseHostPort("[::1]:62081"), { host: "::1", port: 62081 });
    assert.equal(parseHostPort("127.0.0.1:0"), undefined);
  });
});

import { strict as assert } from "node:assert";
import * as net from "node:net";
import { createRegistry, seededRandom, serveHttp, type HttpEndpoint } from "@dcnet/core";
import { l4lbRoutes } from "./http-api";
import type { L4lbSnapshot } from "./service";

/**
 * Fuzz of the REST API's request-target parsing: random paths (percent-escapes, broken escapes,
 * `//` prefixes that look like an authority, `..`, query strings, brackets, long segments) sent
 * raw over TCP (no client-side normalisation). Contract: never a 500; a 4xx from our code is JSON
 * with a reason; the server keeps answering. A failure names the seed and round.
 */

const PIECES = [
  "/",
  "//",
  "/v1/",
  "/v1/vips",
  "/v1/vips/detail",
  "/v1/metrics",
  "%",
  "%zz",
  "%41",
  "%00",
  "%2F",
  "%E2%82",
  "%F0%9F%98%80",
  "..",
  ".",
  "?",
  "?detail",
  "?a=%zz",
  "&",
  "a",
  "[",
  "]",
  "@",
  ":",
  "::1",
  "*",
  "~",
  "'",
  "x".repeat(3000),
];

function randomPath(rnd: () => number): string {
  let p = rnd() < 0.5 ? "/" : PIECES[Math.floor(rnd() * 3)]!;
  for (let n = Math.floor(rnd() * 6); n > 0; n--) p += PIECES[Math.floor(rnd() * PIECES.length)];
  return p.startsWith("/") ? p : `/${p}`;
}

/** One raw GET; resolves with the status and body (HTTP/1.0: the server closes, no chunked body). */
export function rawGet(port: number, target: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const chunks: Buffer[] = [];
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", reject);
    sock.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const type = /^content-type: *(.*)$/im.exec(head)?.[1] ?? "";
      resolve({ status, type, body });
    });
    sock.write(`GET ${target} HTTP/1.0\r\nHost: x\r\n\r\n`);
  });
}

describe("l4lb REST API: request-target fuzz", function () {
  this.timeout(20_000);
  let http: HttpEndpoint;
  before(async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const snapshot = (): L4lbSnapshot => ({ vips: [], problems: [], unreachableAgents: [], dataplane: {} as L4lbSnapshot["dataplane"] });
    http = await serveHttp(registry, { host: "127.0.0.1", port: 0 }, [l4lbRoutes({ snapshot, registry })]);
  });
  after(() => http?.close());

  it("seed 91: random paths never get a 500; our 4xx are JSON with a reason (150 requests)", async () => {
    const rnd = seededRandom(91);
    for (let round = 0; round < 150; round++) {
      const target = randomPath(rnd);
      const r = await rawGet(http.port, target);
      const where = `seed 91 round ${round} GET ${target.length > 200 ? `${target.slice(0, 200)}…` : target}: ${r.status} ${r.body.slice(0, 200)}`;
      assert.ok(r.status >= 200 && r.status < 500, where);
      if (r.status >= 400 && r.type.startsWith("application/json"))
        assert.ok(typeof (JSON.parse(r.body) as { reason?: unknown }).reason === "string", where);
    }
    assert.equal((await rawGet(http.port, "/v1/vips")).status, 200);
  });

  it('a path starting with // is a path, not an authority: a 404 (was a 500 "Invalid URL" for //, //[; fuzz seed 91)', async () => {
    for (const target of ["//", "//[", "//%zz/v1/vips", "//x/v1/vips"]) {
      const r = await rawGet(http.port, target);
      assert.equal(r.status, 404, `${target}: ${r.status} ${r.body}`);
      assert.equal((JSON.parse(r.body) as { error: string }).error, "not_found");
    }
    assert.equal((await rawGet(http.port, "/v1/vips/")).status, 200);
  });
});

import { strict as assert } from "node:assert";
import * as net from "node:net";
import { seededRandom } from "@dcnet/core";
import type { DcosDns } from "./service";
import { startDcosDns, testConfig } from "./test-util";

/**
 * Fuzz of the REST API's request-target parsing and name lookups: random paths (percent-escapes,
 * broken escapes, `//` prefixes that look like an authority, `..`, escaped dots and NULs, huge
 * names, brackets) sent raw over TCP (no client-side normalisation) to a running dcos-dns.
 * Contract: never a 500; a 4xx is JSON with a reason; a 200 is JSON; the server keeps answering.
 * A failure names the seed and round.
 */

const PIECES = [
  "/",
  "//",
  "/v1/",
  "/v1/hosts/",
  "/v1/services/",
  "/v1/version",
  "/v1/records",
  "ready.spartan",
  "Ready.SPARTAN.",
  "_x._tcp.marathon.mesos",
  "zk-1.zk",
  "%",
  "%zz",
  "%2E",
  "%00",
  "%2F",
  "%5C",
  "%E2%82",
  "%F0%9F%98%80",
  "..",
  ".",
  "?",
  "?x=%zz",
  "[",
  "]",
  "@",
  ":",
  "*",
  "~",
  "a".repeat(64),
  "x.".repeat(200),
];

function randomPath(rnd: () => number): string {
  let p = PIECES[Math.floor(rnd() * 7)]!;
  for (let n = Math.floor(rnd() * 5); n > 0; n--) p += PIECES[Math.floor(rnd() * PIECES.length)];
  return p.startsWith("/") ? p : `/${p}`;
}

/** One raw GET (HTTP/1.0: the server closes, no chunked body). */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const chunks: Buffer[] = [];
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", reject);
    sock.on("close", () => {
      const [head = "", body = ""] = Buffer.concat(chunks).toString("utf8").split("\r\n\r\n", 2);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), body });
    });
    sock.write(`GET ${target} HTTP/1.0\r\nHost: x\r\n\r\n`);
  });
}

describe("dcos-dns REST API: request-target fuzz", function () {
  this.timeout(20_000);
  let svc: DcosDns;
  let port = 0;
  before(async () => {
    svc = await startDcosDns(testConfig({ masters: ["10.0.0.11"] }));
    port = svc.ports().http;
  });
  after(() => svc?.lifecycle.stop());

  it("seed 95: random paths never get a 500; 4xx are JSON with a reason; 200s are JSON (150 requests)", async () => {
    const rnd = seededRandom(95);
    for (let round = 0; round < 150; round++) {
      const target = randomPath(rnd);
      const r = await rawGet(port, target);
      const where = `seed 95 round ${round} GET ${target.length > 200 ? `${target.slice(0, 200)}…` : target}: ${r.status} ${r.body.slice(0, 200)}`;
      assert.ok(r.status >= 200 && r.status < 500, where);
      if (r.status >= 400) assert.equal(typeof (JSON.parse(r.body) as { reason?: unknown }).reason, "string", where);
      if (r.status === 200 && !target.startsWith("/v1/metrics")) assert.doesNotThrow(() => JSON.parse(r.body), where);
    }
    assert.deepEqual(JSON.parse((await rawGet(port, "/v1/hosts/zk-1.zk")).body), [{ host: "zk-1.zk.", ip: "10.0.0.11" }]);
  });

  it("a path starting with // is a path, not an authority: 404, not a 400 blaming percent-encoding (fuzz seed 95)", async () => {
    for (const target of ["//", "//[", "//x/v1/hosts/zk-1.zk"]) {
      const r = await rawGet(port, target);
      assert.equal(r.status, 404, `${target}: ${r.status} ${r.body}`);
      assert.equal((JSON.parse(r.body) as { error: string }).error, "not_found");
    }
    const bad = await rawGet(port, "/v1/hosts/%ZZ");
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), { error: "invalid_argument", reason: 'the path "/v1/hosts/%ZZ" is not valid percent-encoding' });
  });
});

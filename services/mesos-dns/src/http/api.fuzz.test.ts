import { strict as assert } from "node:assert";
import * as net from "node:net";
import { createRegistry, seededRandom, serveHttp, type HttpEndpoint } from "@dcnet/core";
import type { MesosDnsConfig, RecordSet } from "../model";
import { mesosDnsRoutes } from "./api";

/**
 * Fuzz of the HTTP API's request-target parsing: random paths (percent-escapes, broken escapes,
 * `//` prefixes that look like an authority, `..`, query strings, brackets, long names) sent raw
 * over TCP (no client-side normalisation) to the API as served. Contract: never a 500; a 400 is
 * JSON with a reason; a found name answers 200 with a JSON list; the server keeps answering.
 * A failure names the seed and round.
 */

const PIECES = [
  "/",
  "//",
  "/v1/",
  "/v1/hosts/",
  "/v1/services/",
  "/v1/version",
  "/v1/enumerate",
  "slave.mesos",
  "Slave.Mesos",
  "_leader._tcp.mesos",
  "%",
  "%zz",
  "%2E",
  "%00",
  "%2F",
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
  "/ports",
  "x".repeat(3000),
];

function randomPath(rnd: () => number): string {
  let p = PIECES[Math.floor(rnd() * 6)]!;
  for (let n = Math.floor(rnd() * 5); n > 0; n--) p += PIECES[Math.floor(rnd() * PIECES.length)];
  return p.startsWith("/") ? p : `/${p}`;
}

/** One raw GET (HTTP/1.0: the server closes, no chunked body). */
function rawGet(port: number, target: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const chunks: Buffer[] = [];
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", reject);
    sock.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0),
        type: /^content-type: *(.*)$/im.exec(head)?.[1] ?? "",
        body,
      });
    });
    sock.write(`GET ${target} HTTP/1.0\r\nHost: x\r\n\r\n`);
  });
}

describe("Mesos-DNS HTTP API: request-target fuzz", function () {
  this.timeout(20_000);
  let http: HttpEndpoint;
  before(async () => {
    const set: RecordSet = {
      a: new Map([["slave.mesos.", ["1.2.3.10"]]]),
      aaaa: new Map(),
      srv: new Map([["_leader._tcp.mesos.", ["slave.mesos.:5050"]]]),
      enumeration: { frameworks: [] },
    };
    const config = {
      enumerationOn: true,
      ttl: 60,
      refreshSeconds: 60,
      soaMname: "ns1.mesos.",
      soaRname: "root.ns1.mesos.",
      domain: "mesos",
    } as MesosDnsConfig;
    const route = mesosDnsRoutes({ config, current: () => ({ set, serial: 1 }), displayConfig: () => ({}) });
    http = await serveHttp(createRegistry({ defaultMetrics: false }), { host: "127.0.0.1", port: 0 }, [route]);
  });
  after(() => http?.close());

  it("seed 93: random paths never get a 500; 400s are JSON with a reason; 200s are JSON (150 requests)", async () => {
    const rnd = seededRandom(93);
    for (let round = 0; round < 150; round++) {
      const target = randomPath(rnd);
      const r = await rawGet(http.port, target);
      const where = `seed 93 round ${round} GET ${target.length > 200 ? `${target.slice(0, 200)}…` : target}: ${r.status} ${r.body.slice(0, 200)}`;
      assert.ok(r.status >= 200 && r.status < 500 && r.status !== 0, where);
      if (r.status === 400) assert.equal(typeof (JSON.parse(r.body) as { reason?: unknown }).reason, "string", where);
      if (r.status === 200) assert.doesNotThrow(() => JSON.parse(r.body), where);
    }
    assert.deepEqual(JSON.parse((await rawGet(http.port, "/v1/hosts/slave.mesos")).body), [{ host: "slave.mesos.", ip: "1.2.3.10" }]);
  });
});

import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { MesosDnsConfig, RecordSet } from "../model";
import { lookupKey, mesosDnsRoutes } from "./api";

const set: RecordSet = {
  a: new Map([
    ["leader.mesos.", ["1.2.3.4"]],
    ["slave.mesos.", ["1.2.3.10", "1.2.3.11"]],
  ]),
  aaaa: new Map([["slave.mesos.", ["2001:db8::1"]]]),
  srv: new Map([
    ["_leader._tcp.mesos.", ["leader.mesos.:5050"]],
    ["_nowhere._tcp.mesos.", ["gone.mesos.:1"]],
  ]),
  enumeration: {
    frameworks: [
      {
        name: "marathon",
        tasks: [
          { name: "web", id: "web.1", records: [{ name: "web.marathon.mesos.", host: "1.2.3.10", rtype: "A" }] },
          // A second instance whose records an earlier task already added: none of its own.
          { name: "web", id: "web.1", records: [] },
        ],
      },
      { name: "no tasks", tasks: [] },
    ],
  },
};

async function serve(
  enumerationOn = true,
): Promise<{ get(path: string): Promise<{ status: number; type: string; body: string }>; close(): Promise<void> }> {
  const config = {
    enumerationOn,
    ttl: 60,
    refreshSeconds: 60,
    soaMname: "ns1.mesos.",
    soaRname: "root.ns1.mesos.",
    domain: "mesos",
  } as MesosDnsConfig;
  const route = mesosDnsRoutes({ config, current: () => ({ set, serial: 42 }), displayConfig: (serial) => ({ SOASerial: serial }) });
  const srv = http.createServer((req, res) => {
    if (!route(req, res)) res.end("fallthrough");
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  return {
    get: async (path) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { accept: "application/json" } });
      return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
    },
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

describe("Mesos-DNS HTTP API (§5)", () => {
  it("normalises lookup keys like upstream", () => {
    assert.equal(lookupKey("Leader.MESOS"), "leader.mesos.");
    assert.equal(lookupKey("bob.*.mesos."), "bob.mesos.");
  });

  it("serves version, config, hosts, services, enumerate, axfr with upstream's shapes", async () => {
    const s = await serve();
    try {
      assert.deepEqual(JSON.parse((await s.get("/v1/version")).body), {
        Service: "Mesos-DNS",
        URL: "https://github.com/mesosphere/mesos-dns",
        Version: "v0.7.0-dcnet",
      });
      assert.deepEqual(JSON.parse((await s.get("/v1/config")).body), { SOASerial: 42 });
      assert.deepEqual(JSON.parse((await s.get("/v1/hosts/Slave.Mesos")).body), [
        { host: "slave.mesos.", ip: "1.2.3.10" },
        { host: "slave.mesos.", ip: "1.2.3.11" },
        { host: "slave.mesos.", ip: "2001:db8::1" },
      ]);
      assert.deepEqual(JSON.parse((await s.get("/v1/hosts/nothing.mesos")).body), [{ host: "", ip: "" }]);
      const ports = await s.get("/v1/hosts/slave.mesos/ports");
      assert.equal(ports.status, 501);
      assert.equal(ports.body, "To be implemented...");
      assert.deepEqual(JSON.parse((await s.get("/v1/services/_leader._tcp.mesos.")).body), [
        { service: "_leader._tcp.mesos.", host: "leader.mesos.", ip: "1.2.3.4", port: "5050" },
      ]);
      assert.deepEqual(JSON.parse((await s.get("/v1/services/_nowhere._tcp.mesos")).body), [{ service: "", host: "", ip: "", port: "" }]);
      // Upstream's exact body: Go field order (tasks before name), a task without records has "records": null.
      assert.equal(
        (await s.get("/v1/enumerate")).body,
        JSON.stringify(
          {
            frameworks: [
              {
                tasks: [
                  { name: "web", id: "web.1", records: [{ name: "web.marathon.mesos.", host: "1.2.3.10", rtype: "A" }] },
                  { name: "web", id: "web.1", records: null },
                ],
                name: "marathon",
              },
              { tasks: [], name: "no tasks" },
            ],
          },
          null,
          2,
        ),
      );
      const axfr = JSON.parse((await s.get("/v1/axfr")).body);
      assert.equal(axfr.Serial, 42);
      assert.deepEqual(axfr.Records.SRVs["_leader._tcp.mesos."], ["leader.mesos.:5050"]);
      const missing = await s.get("/v2/nope");
      assert.equal(missing.status, 404);
      assert.equal(missing.body, "404: Page Not Found");
      assert.match(missing.type, /text\/plain/);
    } finally {
      await s.close();
    }
  });

  it('a path starting with // is a path, not an authority: 404 (it threw "Invalid URL" for //, //[; fuzz seed 93)', async () => {
    const s = await serve();
    try {
      for (const path of ["//", "//[", "//x/v1/version"]) {
        const r = await s.get(path);
        assert.equal(r.status, 404, path);
        assert.equal(r.body, "404: Page Not Found");
      }
    } finally {
      await s.close();
    }
  });

  it("a malformed percent-escape in the path is a 400 with a JSON reason", async () => {
    const s = await serve();
    try {
      const r = await s.get("/v1/hosts/%ZZ");
      assert.equal(r.status, 400);
      assert.match(r.type, /application\/json/);
      assert.deepEqual(JSON.parse(r.body), { error: "invalid_argument", reason: 'the path "/v1/hosts/%ZZ" is not valid percent-encoding' });
      assert.equal((await s.get("/v1/hosts/slave%2Emesos")).status, 200, "a valid escape is decoded");
    } finally {
      await s.close();
    }
  });

  it("hides enumerate and axfr when EnumerationOn is false", async () => {
    const s = await serve(false);
    try {
      assert.equal((await s.get("/v1/enumerate")).status, 404);
      assert.equal((await s.get("/v1/axfr")).status, 404);
    } finally {
      await s.close();
    }
  });
});

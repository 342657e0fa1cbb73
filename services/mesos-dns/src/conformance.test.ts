import { strict as assert } from "node:assert";
import { promises as dnsp } from "node:dns";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { mesosdnsv1 } from "@dcnet/proto";
import { createLogger, createRegistry, unary } from "@dcnet/core";
import { buildQuery, decode, tcpExchange, TYPE_A, TYPE_AAAA, TYPE_SRV, RCODE_NXDOMAIN } from "@dcnet/dns";
import { parseMesosDnsConfig } from "./config";
import { createMesosDns, type MesosDns } from "./service";

const FAKE = path.resolve(__dirname, "../../../../shared/mesos-dns-fixtures/fake.json");

/**
 * Conformance through the running service (issue 4, Tests): a master serving the upstream fixture
 * fake.json, mesos-dns with upstream's test setup (TestInsertState: EnforceRFC952, IPSources
 * netinfo, docker, mesos, host), and the records §3 implies checked where a client sees them — DNS
 * over UDP (Node's c-ares resolver) and over TCP, the HTTP API, gRPC. The one change to fake.json:
 * its leader (1.2.3.4:5050) becomes the fake master itself (127.0.0.1:<port>), since the
 * failover-aware fetch follows the leader named in the state.
 */
describe("conformance: fake.json through the running service, upstream test setup (RFC952; netinfo, docker, mesos, host)", function () {
  this.timeout(20_000);
  let svc: MesosDns;
  let master: http.Server;
  let port = 0;
  let udp: dnsp.Resolver;

  /** [type, name, values]: the records upstream's TestInsertState expects for this setup (leader moved to the fake master). */
  const expected = (): ["A" | "AAAA" | "SRV", string, string[]][] => [
    ["A", "big-dog.marathon.mesos.", ["10.3.0.1"]],
    ["A", "liquor-store.marathon.mesos.", ["10.3.0.1", "10.3.0.2"]],
    ["A", "liquor-store.marathon.slave.mesos.", ["1.2.3.11", "1.2.3.12"]],
    ["A", "car-store.marathon.slave.mesos.", ["1.2.3.11"]],
    ["A", "nginx.marathon.mesos.", ["10.3.0.3"]],
    ["A", "leader.mesos.", ["127.0.0.1"]],
    ["A", "master.mesos.", ["127.0.0.1"]],
    ["A", "master0.mesos.", ["127.0.0.1"]],
    ["A", "slave.mesos.", ["1.2.3.10", "1.2.3.11", "1.2.3.12"]],
    ["A", "some-box.chronoswithaspaceandmixe.mesos.", ["1.2.3.11"]],
    ["A", "marathon.mesos.", ["1.2.3.11"]],
    ["A", "ns1.mesos.", ["127.0.0.1"]],
    ["AAAA", "toy-store.ipv6-framework.mesos.", ["fd01:b::1:8000:2"]],
    ["AAAA", "toy-store.ipv6-framework.slave.mesos.", ["2001:db8::1"]],
    ["AAAA", "ipv6-framework.mesos.", ["2001:db8::1"]],
    ["AAAA", "slave.mesos.", ["2001:db8::1"]],
    ["SRV", "_big-dog._tcp.marathon.mesos.", ["big-dog-4dfjd-0.marathon.mesos.:443", "big-dog-4dfjd-0.marathon.mesos.:80"]],
    ["SRV", "_leader._tcp.mesos.", [`leader.mesos.:${port}`]],
    ["SRV", "_leader._udp.mesos.", [`leader.mesos.:${port}`]],
    [
      "SRV",
      "_liquor-store._tcp.marathon.mesos.",
      [
        "liquor-store-4dfjd-0.marathon.mesos.:443",
        "liquor-store-4dfjd-0.marathon.mesos.:80",
        "liquor-store-zasmd-1.marathon.mesos.:443",
        "liquor-store-zasmd-1.marathon.mesos.:80",
      ],
    ],
    [
      "SRV",
      "_https._liquor-store._tcp.marathon.mesos.",
      ["liquor-store-4dfjd-0.marathon.mesos.:443", "liquor-store-zasmd-1.marathon.mesos.:443"],
    ],
    [
      "SRV",
      "_car-store._udp.marathon.mesos.",
      ["car-store-zinaz-0.marathon.slave.mesos.:31364", "car-store-zinaz-0.marathon.slave.mesos.:31365"],
    ],
    ["SRV", "_slave._tcp.mesos.", ["slave.mesos.:5051"]],
    ["SRV", "_framework._tcp.marathon.mesos.", ["marathon.mesos.:25501"]],
  ];
  const QTYPE = { A: TYPE_A, AAAA: TYPE_AAAA, SRV: TYPE_SRV } as const;
  const abs = (n: string): string => (n.endsWith(".") ? n : `${n}.`);

  before(async () => {
    const state = JSON.parse(fs.readFileSync(FAKE, "utf8")) as Record<string, unknown>;
    master = http.createServer((req, res) => {
      if (req.url !== "/master/state") return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ...state, leader: `master@127.0.0.1:${port}` }));
    });
    await new Promise<void>((r) => master.listen(0, "127.0.0.1", r));
    port = (master.address() as AddressInfo).port;
    const config = parseMesosDnsConfig(
      {
        masters: [`127.0.0.1:${port}`],
        EnforceRFC952: true,
        IPSources: ["netinfo", "docker", "mesos", "host"],
        port: 0,
        httpport: 0,
        listener: "127.0.0.1",
        HTTPListener: "127.0.0.1",
        externalOn: false,
      },
      { env: {}, warn: () => undefined },
    );
    svc = createMesosDns(
      config,
      { env: {}, grpcPort: 0, subscribe: false },
      { logger: createLogger({ service: "test", level: "silent" }), registry: createRegistry({ defaultMetrics: false }) },
    );
    await svc.lifecycle.start();
    udp = new dnsp.Resolver({ timeout: 2000, tries: 1 });
    udp.setServers([`127.0.0.1:${svc.ports().dnsUdp}`]);
  });
  after(async () => {
    await svc?.lifecycle.stop();
    await new Promise((r) => master?.close(r));
  });

  it("DNS over UDP (c-ares): every expected record set, an NXDOMAIN for a task that is not running", async () => {
    for (const [type, name, values] of expected()) {
      let got: string[];
      if (type === "A") got = await udp.resolve4(name);
      else if (type === "AAAA") got = await udp.resolve6(name);
      else got = (await udp.resolveSrv(name)).map((s) => `${abs(s.name)}:${s.port}`);
      assert.deepEqual(got.sort(), [...values].sort(), `${type} ${name}`);
    }
    await assert.rejects(udp.resolve4("poseidon.marathon.mesos."), (e: NodeJS.ErrnoException) => e.code === "ENOTFOUND");
  });

  it("DNS over TCP: the same record sets, authoritative, TTL 60, SRV priority 0 weight 1", async () => {
    const cases = expected();
    const replies = await tcpExchange(
      svc.ports().dnsTcp,
      cases.map(([type, name], i) => buildQuery({ id: i + 1, name, qtype: QTYPE[type] })),
    );
    for (const reply of replies) {
      const d = decode(reply);
      const [type, name, values] = cases[d.id - 1]!;
      assert.equal(d.rcode, 0, `${type} ${name}`);
      assert.ok(d.aa, `${type} ${name}: authoritative`);
      const answers = d.answers.filter((r) => r.type === QTYPE[type]);
      assert.ok(answers.every((r) => r.ttl === 60 && r.name === name));
      const got = answers.map((r) => {
        // The test decoder writes IPv6 uncompressed: compare in the canonical (RFC 5952) text.
        if (type === "AAAA") return new URL(`http://[${r.data as string}]/`).hostname.slice(1, -1);
        if (type === "A") return r.data as string;
        const srv = r.data as { priority: number; weight: number; port: number; target: string };
        assert.deepEqual([srv.priority, srv.weight], [0, 1]);
        return `${abs(srv.target)}:${srv.port}`;
      });
      assert.deepEqual(got.sort(), [...values].sort(), `${type} ${name}`);
    }
    const [miss] = await tcpExchange(svc.ports().dnsTcp, [buildQuery({ name: "poseidon.marathon.mesos.", qtype: TYPE_A })]);
    assert.equal(decode(miss!).rcode, RCODE_NXDOMAIN);
  });

  it("HTTP /v1/services: the spec's _leader._tcp example, byte for byte (leader moved to the fake master)", async () => {
    const res = await fetch(`http://127.0.0.1:${svc.ports().http}/v1/services/_leader._tcp.mesos.`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(
      await res.text(),
      JSON.stringify([{ service: "_leader._tcp.mesos.", host: "leader.mesos.", ip: "127.0.0.1", port: String(port) }], null, 2),
    );
  });

  it("HTTP /v1/axfr: the SOA fields and every expected record", async () => {
    const body = (await (await fetch(`http://127.0.0.1:${svc.ports().http}/v1/axfr`)).json()) as {
      TTL: number;
      Serial: number;
      RefreshSeconds: number;
      Mname: string;
      Rname: string;
      Domain: string;
      Records: Record<"As" | "AAAAs" | "SRVs", Record<string, string[]>>;
    };
    assert.deepEqual(Object.keys(body), ["TTL", "Serial", "RefreshSeconds", "Mname", "Rname", "Domain", "Records"]);
    assert.deepEqual(
      [body.TTL, body.Serial, body.RefreshSeconds, body.Mname, body.Rname, body.Domain],
      [60, svc.reloader.current!.serial, 60, "ns1.mesos.", "root.ns1.mesos.", "mesos"],
    );
    const key = { A: "As", AAAA: "AAAAs", SRV: "SRVs" } as const;
    for (const [type, name, values] of expected())
      assert.deepEqual([...(body.Records[key[type]][name] ?? [])].sort(), [...values].sort(), `${type} ${name}`);
    assert.equal(body.Records.As["poseidon.marathon.mesos."], undefined, "not running");
  });

  it("HTTP /v1/enumerate: frameworks in state order, upstream field order, car.store's records in insertion order", async () => {
    const text = await (await fetch(`http://127.0.0.1:${svc.ports().http}/v1/enumerate`)).text();
    const body = JSON.parse(text) as { frameworks: { tasks: { name: string; id: string; records: unknown }[]; name: string }[] };
    assert.deepEqual(
      body.frameworks.map((f) => [f.name, f.tasks.map((t) => t.name)]),
      [
        ["ipv6-framework", ["toy-store"]],
        ["chronos with a space AND MIXED CASE-2.0.1", ["some-box"]],
        ["no pid", []],
        ["marathon", ["liquor.store", "big.dog2", "non-human-readable-liquor-store", "car.store", "chronos", "nginx", "reviewbot"]],
      ],
    );
    for (const f of body.frameworks) {
      assert.deepEqual(Object.keys(f), ["tasks", "name"]);
      for (const t of f.tasks) assert.deepEqual(Object.keys(t), ["name", "id", "records"]);
    }
    assert.ok(
      text.includes(JSON.stringify({ tasks: [], name: "no pid" }, null, 2).replace(/\n/g, "\n    ")),
      "an empty framework as upstream prints it",
    );
    const car = body.frameworks[3]!.tasks.find((t) => t.name === "car.store")!;
    assert.equal(car.id, "car-store.43758382-562f-11e4-a088-c20493233aa5");
    const target = "car-store-zinaz-0.marathon.slave.mesos.";
    assert.deepEqual(car.records, [
      { name: "car-store.marathon.mesos.", host: "1.2.3.11", rtype: "A" },
      { name: "car-store-zinaz-0.marathon.mesos.", host: "1.2.3.11", rtype: "A" },
      { name: "car-store.marathon.slave.mesos.", host: "1.2.3.11", rtype: "A" },
      { name: "car-store-zinaz-0.marathon.slave.mesos.", host: "1.2.3.11", rtype: "A" },
      ...[31364, 31365].flatMap((p) =>
        [
          "_car-store._tcp.marathon.slave.mesos.",
          "_car-store._udp.marathon.slave.mesos.",
          "_car-store._tcp.marathon.mesos.",
          "_car-store._udp.marathon.mesos.",
        ].map((name) => ({ name, host: `${target}:${p}`, rtype: "SRV" })),
      ),
    ]);
  });

  it("gRPC Enumerate: the same frameworks, tasks and records, with the serial", async () => {
    const client = new mesosdnsv1.MesosDnsServiceClient(`127.0.0.1:${svc.ports().grpc}`, grpc.credentials.createInsecure());
    try {
      const res = await unary(client.enumerate.bind(client), {});
      assert.equal(res.serial, svc.reloader.current!.serial);
      const http = (await (await fetch(`http://127.0.0.1:${svc.ports().http}/v1/enumerate`)).json()) as {
        frameworks: {
          tasks: { name: string; id: string; records: { name: string; host: string; rtype: string }[] | null }[];
          name: string;
        }[];
      };
      assert.deepEqual(
        res.frameworks.map((f) => ({
          name: f.name,
          tasks: f.tasks.map((t) => ({ name: t.name, id: t.id, records: t.records.map((r) => [r.name, r.type, r.value]) })),
        })),
        http.frameworks.map((f) => ({
          name: f.name,
          tasks: f.tasks.map((t) => ({ name: t.name, id: t.id, records: (t.records ?? []).map((r) => [r.name, r.rtype, r.host]) })),
        })),
      );
      const toy = res.frameworks[0]!.tasks[0]!;
      assert.ok(
        toy.records.some((r) => r.type === "AAAA" && r.name === "toy-store.ipv6-framework.mesos." && r.value === "fd01:b::1:8000:2"),
      );
      assert.equal(res.frameworks[2]!.name, "no pid");
      assert.deepEqual(res.frameworks[2]!.tasks, []);
    } finally {
      client.close();
    }
  });
});

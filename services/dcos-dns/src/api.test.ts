import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { DcnetError, unary } from "@dcnet/core";
import { buildQuery, decode, TYPE_A } from "@dcnet/dns";
import { dcosdnsv1 } from "@dcnet/proto";
import { loadDcosDnsConfig } from "./config";
import type { DcosDns } from "./service";
import { startDcosDns, testConfig } from "./test-util";

describe("dcos-dns APIs and config", function () {
  this.timeout(20_000);
  let svc: DcosDns;
  let base = "";
  let client: dcosdnsv1.DcosDnsServiceClient;
  before(async () => {
    svc = await startDcosDns(
      testConfig({
        masters: ["10.0.0.11"],
        zones: { "alias.thisdcos.directory": [{ type: "cname", name: "www.alias.thisdcos.directory", value: "ready.spartan" }] },
      }),
    );
    svc.authority.setZone({
      zone: "mixed.thisdcos.directory.",
      records: new Map([
        ["v6.mixed.thisdcos.directory.", { a: ["10.0.0.6"], aaaa: ["fd01:b::1"] }],
        ["only6.mixed.thisdcos.directory.", { aaaa: ["fd01:b::2"] }],
        ["_web._tcp.mixed.thisdcos.directory.", { srv: [{ target: "v6.mixed.thisdcos.directory.", port: 80 }] }],
        ["_v6only._tcp.mixed.thisdcos.directory.", { srv: [{ target: "only6.mixed.thisdcos.directory.", port: 81 }] }],
      ]),
    });
    base = `http://127.0.0.1:${svc.ports().http}`;
    client = new dcosdnsv1.DcosDnsServiceClient(`127.0.0.1:${svc.ports().grpc}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    await svc?.lifecycle.stop();
  });

  it("HTTP: /v1/version, /v1/hosts, /v1/records, /v1/metrics; 501 and 405 with a reason", async () => {
    assert.deepEqual(await (await fetch(`${base}/v1/version`)).json(), { Service: "dcos-dns", Version: "0.1.0-dcnet" });
    assert.deepEqual(await (await fetch(`${base}/v1/hosts/zk-1.zk`)).json(), [{ host: "zk-1.zk.", ip: "10.0.0.11" }]);
    const recsRes = await fetch(`${base}/v1/records`);
    assert.equal(recsRes.headers.get("transfer-encoding"), "chunked", "streamed");
    const recs = (await recsRes.json()) as { name: string; host: string; rtype: string }[];
    assert.ok(recs.some((r) => r.name === "ready.spartan." && r.host === "127.0.0.1" && r.rtype === "A"));
    assert.ok(recs.some((r) => r.name === "v6.mixed.thisdcos.directory." && r.host === "fd01:b::1" && r.rtype === "AAAA"));
    assert.ok(
      recs.some(
        (r) => r.name === "_web._tcp.mixed.thisdcos.directory." && r.host === "v6.mixed.thisdcos.directory.:80" && r.rtype === "SRV",
      ),
    );
    assert.deepEqual(
      [...new Set(recs.map((r) => r.rtype))].sort(),
      ["A", "AAAA", "SRV"],
      "§7: rtype A|AAAA|SRV (the custom zone's CNAME is not listed)",
    );
    // §7: /v1/hosts lists A records; /v1/services resolves the SRV target to A.
    assert.deepEqual(await (await fetch(`${base}/v1/hosts/v6.mixed.thisdcos.directory`)).json(), [
      { host: "v6.mixed.thisdcos.directory.", ip: "10.0.0.6" },
    ]);
    assert.deepEqual(await (await fetch(`${base}/v1/services/_web._tcp.mixed.thisdcos.directory`)).json(), [
      { service: "_web._tcp.mixed.thisdcos.directory.", host: "v6.mixed.thisdcos.directory.", port: 80, ip: "10.0.0.6" },
    ]);
    assert.deepEqual(await (await fetch(`${base}/v1/services/_v6only._tcp.mixed.thisdcos.directory`)).json(), [
      { service: "_v6only._tcp.mixed.thisdcos.directory.", host: "only6.mixed.thisdcos.directory.", port: 81 },
    ]);
    assert.equal((await fetch(`${base}/v1/enumerate`)).status, 501);
    const post = await fetch(`${base}/v1/records`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.match(((await post.json()) as { reason: string }).reason, /read-only/);
    const metrics = await (await fetch(`${base}/v1/metrics`)).text();
    assert.match(metrics, /dns_queries_total|dns_dropped_total/);
  });

  it("metrics: dns_zone_records for every zone served (static and local ones too); a query with no route is a forwarder failure", async () => {
    const r = await svc.server().query(buildQuery({ id: 5, name: "example.com", qtype: TYPE_A }), "udp");
    assert.equal(decode(r!).rcode, 2, "no upstreams configured: SERVFAIL");
    const metrics = await (await fetch(`${base}/v1/metrics`)).text();
    assert.match(metrics, /^dns_zone_records\{zone="spartan\."\} 2$/m);
    assert.match(metrics, /^dns_zone_records\{zone="zk\."\} 5$/m);
    assert.match(metrics, /^dns_zone_records\{zone="thisnode\.thisdcos\.directory\."\} 1$/m);
    assert.match(metrics, /^dns_zone_records\{zone="alias\.thisdcos\.directory\."\} 1$/m);
    assert.match(metrics, /^dns_forwarder_failures_total\{zone="\."\} 1$/m);
  });

  it("gRPC: Resolve through the DNS path (CNAME followed), ListZones; bad arguments name the field", async () => {
    const r = await unary(client.resolve.bind(client), { name: "www.alias.thisdcos.directory", type: "A" });
    assert.equal(r.rcode, "NOERROR");
    assert.equal(r.route, "internal");
    assert.deepEqual(
      r.answers.map((a) => [a.type, a.value]),
      [
        ["CNAME", "ready.spartan."],
        ["A", "127.0.0.1"],
      ],
    );
    const zones = await unary(client.listZones.bind(client), {});
    assert.ok(zones.zones.some((z) => z.name === "spartan." && z.source === "static" && z.names === 2));
    await assert.rejects(unary(client.resolve.bind(client), { name: "x", type: "MX" }), (e: DcnetError) => e.field === "type");
    await assert.rejects(unary(client.resolve.bind(client), { name: "", type: "" }), (e: DcnetError) => e.field === "name");
  });

  it("config: dcos-dns.json snake_case keys, errors naming the key, unknown keys warned, env overrides", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcos-dns-"));
    const file = path.join(dir, "dcos-dns.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ upstream_resolvers: ["10.0.0.2:5353"], udp_port: 5454, forward_zones: { "corp.example": ["10.0.0.3"] }, bogus: 1 }),
    );
    const warnings: string[] = [];
    const c = loadDcosDnsConfig({ file, env: { DCNET_TCP_PORT: "5455" } }, (m) => warnings.push(m));
    assert.deepEqual(c.upstreamResolvers, ["10.0.0.2:5353"]);
    assert.equal(c.udpPort, 5454);
    assert.equal(c.tcpPort, 5455);
    assert.deepEqual(c.forwardZones, { "corp.example": ["10.0.0.3"] });
    assert.match(warnings.join(), /bogus/);
    fs.writeFileSync(file, JSON.stringify({ upstream_resolvers: ["dns.google"] }));
    assert.throws(
      () => loadDcosDnsConfig({ file, env: {} }, () => undefined),
      (e: DcnetError) => e.field === "upstream_resolvers.0" && e.message.startsWith("upstream_resolvers.0: "),
    );
    fs.writeFileSync(file, JSON.stringify({ udp_port: 70000 }));
    assert.throws(
      () => loadDcosDnsConfig({ file, env: {} }, () => undefined),
      (e: DcnetError) => e.field === "udp_port",
    );
    fs.writeFileSync(file, JSON.stringify({ producer: { settle_ms: -1 }, forward_zones: { "corp.example": ["10.0.0.3"] } }));
    assert.throws(
      () => loadDcosDnsConfig({ file, env: {} }, () => undefined),
      (e: DcnetError) => e.field === "producer.settle_ms",
    );
    // The environment wins over the file, and its errors name the variable.
    fs.writeFileSync(file, JSON.stringify({ udp_port: 5454 }));
    assert.throws(
      () => loadDcosDnsConfig({ file, env: { DCNET_UDP_PORT: "99999" } }, () => undefined),
      (e: DcnetError) => e.field === "DCNET_UDP_PORT",
    );
    assert.throws(
      () => loadDcosDnsConfig({ file, env: { DCNET_UPSTREAM_RESOLVERS: "10.0.0.1,dns.google" } }, () => undefined),
      (e: DcnetError) => e.field === "DCNET_UPSTREAM_RESOLVERS.1",
    );
    // Every address list takes a,b,c from the environment (public_ips did not).
    const lists = loadDcosDnsConfig(
      { env: { DCNET_PUBLIC_IPS: "203.0.113.5, 203.0.113.6", DCNET_MASTERS: "10.0.0.11,10.0.0.12", DCNET_BIND_IPS: "127.0.0.1" } },
      () => undefined,
    );
    assert.deepEqual(lists.publicIps, ["203.0.113.5", "203.0.113.6"]);
    assert.deepEqual(lists.masters, ["10.0.0.11", "10.0.0.12"]);
    assert.deepEqual(lists.bindIps, ["127.0.0.1"]);
    assert.throws(
      () => loadDcosDnsConfig({ env: { DCNET_PUBLIC_IPS: "203.0.113.5,nope" } }, () => undefined),
      (e: DcnetError) => e.field === "DCNET_PUBLIC_IPS.1",
    );
    // A key set by no one (a programmatic override) is named in the file's snake_case.
    assert.throws(
      () => loadDcosDnsConfig({ env: {}, overrides: { handlerLimit: 0 } }, () => undefined),
      (e: DcnetError) => e.field === "handler_limit",
    );
    fs.writeFileSync(file, JSON.stringify({ zones: { "dcos.thisdcos.directory": [] } }));
    assert.throws(
      () => loadDcosDnsConfig({ file, env: {} }, () => undefined),
      (e: DcnetError) => /zones/.test(e.field ?? ""),
    );
    fs.rmSync(dir, { recursive: true });
  });
});

import { strict as assert } from "node:assert";
import { promises as dnsp } from "node:dns";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { mesosdnsv1 } from "@dcnet/proto";
import { createLogger, createRegistry, eventually, serverStream, unary } from "@dcnet/core";
import { parseMesosDnsConfig } from "./config";
import { createMesosDns, type MesosDns } from "./service";

const FAKE = path.resolve(__dirname, "../../../../shared/mesos-dns-fixtures/fake.json");
const logger = createLogger({ service: "test", level: "silent" });

/** A master serving a state document that the test can change. */
async function fakeMaster(doc: () => unknown): Promise<{ address: string; close(): Promise<void> }> {
  const srv = http.createServer((req, res) => {
    if (req.url !== "/master/state") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(doc()));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return { address: `127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

describe("mesos-dns service: fake.json master → DNS (UDP, TCP), HTTP, gRPC", function () {
  this.timeout(20_000);
  let state: Record<string, unknown>;
  let master: Awaited<ReturnType<typeof fakeMaster>>;
  let svc: MesosDns;
  let resolver: dnsp.Resolver;

  before(async () => {
    state = JSON.parse(fs.readFileSync(FAKE, "utf8")) as Record<string, unknown>;
    // The leader must be reachable as a master: point it at the fake (same IP), as upstream's DNS tests keep 1.2.3.4 in records.
    master = await fakeMaster(() => state);
    const config = parseMesosDnsConfig(
      {
        masters: [master.address],
        port: 0,
        httpport: 0,
        listener: "127.0.0.1",
        HTTPListener: "127.0.0.1",
        refreshSeconds: 1,
        externalOn: false,
      },
      { env: {}, warn: () => undefined },
    );
    svc = createMesosDns(
      config,
      { env: {}, grpcPort: 0, subscribe: false },
      { logger, registry: createRegistry({ defaultMetrics: false }) },
    );
    // fake.json's leader is 1.2.3.4: the failover-aware fetch would follow it. Serve it as if we were the leader.
    state["leader"] = `master@127.0.0.1:${master.address.split(":")[1]}`;
    await svc.lifecycle.start();
    resolver = new dnsp.Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${svc.ports().dnsUdp}`]);
  });
  after(async () => {
    await svc?.lifecycle.stop();
    await master?.close();
  });

  it("answers A, AAAA and SRV for fake.json's frameworks and agents over UDP", async () => {
    assert.deepEqual(await resolver.resolve4("marathon.mesos"), ["1.2.3.11"]);
    assert.deepEqual(await resolver.resolve6("ipv6-framework.mesos"), ["2001:db8::1"]);
    const srv = await resolver.resolveSrv("_framework._tcp.marathon.mesos");
    assert.deepEqual(
      srv.map((s) => [s.name, s.port]),
      [["marathon.mesos", 25501]],
    );
    assert.ok((await resolver.resolve4("slave.mesos")).includes("1.2.3.10"));
    assert.deepEqual(await resolver.resolve4("leader.mesos"), ["127.0.0.1"]);
    await assert.rejects(resolver.resolve4("no-such-task.marathon.mesos"), (e: NodeJS.ErrnoException) => e.code === "ENOTFOUND");
    await assert.rejects(resolver.resolve4("example.com"), (e: NodeJS.ErrnoException) => e.code === "EREFUSED");
  });

  it("answers over TCP too", async () => {
    // A raw TCP query: length-prefixed A query for marathon.mesos.
    const q = Buffer.from([
      0x12,
      0x34,
      1,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      8,
      ...Buffer.from("marathon"),
      5,
      ...Buffer.from("mesos"),
      0,
      0,
      1,
      0,
      1,
    ]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const sock = net.connect(svc.ports().dnsTcp, "127.0.0.1", () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        sock.write(Buffer.concat([len, q]));
      });
      let buf = Buffer.alloc(0);
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          sock.end();
          resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        }
      });
      sock.on("error", reject);
    });
    assert.equal(reply.readUInt16BE(0), 0x1234, "same id");
    assert.equal(reply[3]! & 0x0f, 0, "NOERROR");
    assert.equal(reply.readUInt16BE(6), 1, "one answer");
    assert.deepEqual([...reply.subarray(reply.length - 4)], [1, 2, 3, 11]);
  });

  it("serves the HTTP API", async () => {
    const base = `http://127.0.0.1:${svc.ports().http}`;
    const hosts = (await (await fetch(`${base}/v1/hosts/marathon.mesos`)).json()) as { host: string; ip: string }[];
    assert.deepEqual(hosts, [{ host: "marathon.mesos.", ip: "1.2.3.11" }]);
    const cfg = (await (await fetch(`${base}/v1/config`)).json()) as Record<string, unknown>;
    assert.equal(cfg["Domain"], "mesos");
    const en = (await (await fetch(`${base}/v1/enumerate`)).json()) as { frameworks: { name: string }[] };
    assert.ok(en.frameworks.some((f) => f.name === "marathon"));
    assert.match(await (await fetch(`${base}/metrics`)).text(), /mesos_dns_records\{type="A"\}/);
  });

  it("gRPC Lookup, and Watch streams the snapshot then a delta after the state changes", async () => {
    const client = new mesosdnsv1.MesosDnsServiceClient(`127.0.0.1:${svc.ports().grpc}`, grpc.credentials.createInsecure());
    try {
      const res = await unary(client.lookup.bind(client), { name: "Marathon.Mesos", type: "A" });
      assert.deepEqual(
        res.records.map((r) => [r.name, r.type, r.value]),
        [["marathon.mesos.", "A", "1.2.3.11"]],
      );
      await assert.rejects(
        unary(client.lookup.bind(client), { name: "x.mesos", type: "MX" }),
        (e: { field?: string }) => e.field === "type",
      );
      const ac = new AbortController();
      const seen: mesosdnsv1.WatchResponse[] = [];
      const watching = (async () => {
        for await (const ev of serverStream(client.watch.bind(client), {}, { signal: ac.signal })) seen.push(ev);
      })();
      await eventually(() => assert.equal(seen[0]?.kind, mesosdnsv1.ChangeKind.CHANGE_KIND_SNAPSHOT));
      // Rename the marathon framework: the next reload (refreshSeconds 1) brings a delta.
      const fws = state["frameworks"] as { name: string }[];
      fws.find((f) => f.name === "marathon")!.name = "marathon-two";
      await eventually(() => {
        const delta = seen.find((s) => s.kind === mesosdnsv1.ChangeKind.CHANGE_KIND_DELTA);
        assert.ok(delta?.added.some((r) => r.name === "marathon-two.mesos."));
        assert.ok(delta?.removed.some((r) => r.name === "marathon.mesos."));
      }, 5000);
      assert.deepEqual(await resolver.resolve4("marathon-two.mesos"), ["1.2.3.11"]);
      ac.abort();
      await watching;
    } finally {
      client.close();
    }
  });

  it("keeps serving the last record set when every master fails", async () => {
    const before = svc.reloader.current!.serial;
    await master.close();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(svc.reloader.current!.serial, before, "no new generation");
    assert.deepEqual(await resolver.resolve4("marathon-two.mesos"), ["1.2.3.11"]);
  });
});

describe("mesos-dns service: stopped while waiting for the first reload", () => {
  it("lifecycle.stop() with every master failing: start() rejects, no more reloads, no servers left", async () => {
    let requests = 0;
    const srv = http.createServer((req, res) => {
      requests++;
      res.writeHead(503).end("down");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const address = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const config = parseMesosDnsConfig(
      { masters: [address], port: 0, httpport: 0, listener: "127.0.0.1", HTTPListener: "127.0.0.1" },
      { env: {}, warn: () => undefined },
    );
    const svc = createMesosDns(config, { env: {}, subscribe: false }, { logger, registry: createRegistry({ defaultMetrics: false }) });
    try {
      const started = svc.lifecycle.start();
      await eventually(() => assert.ok(requests >= 1), 3000);
      await svc.lifecycle.stop();
      await assert.rejects(started, /stopped before the first successful reload/);
      const n = requests;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(requests, n, "no reload after stop");
      assert.deepEqual(svc.ports(), { dnsUdp: 0, dnsTcp: 0, http: 0, grpc: 0 });
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});

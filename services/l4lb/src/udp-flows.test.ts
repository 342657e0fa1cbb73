import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createRegistry, eventually } from "@dcnet/core";
import type { DataplaneVip } from "./dataplane";
import { createNftDriver, type NftDriver } from "./driver-nft";
import { addNetns, delNetns, nftUnavailable, sh, startServers } from "./testutil-netns";
import { quiet } from "./testutil-service";
import { conntrackArgs, createUdpFlows, staleFlows, udpBackends } from "./udp-flows";

const udp = (ip: string, port: number, backends: [string, number, number][]): DataplaneVip => ({
  protocol: "udp",
  ip,
  port,
  backends: backends.map(([bip, bport, weight]) => ({ ip: bip, port: bport, weight })),
});

describe("l4lb UDP flows of removed backends", () => {
  it("finds the (VIP, backend) pairs a table dropped, whatever the weights; TCP VIPs and new backends are not stale", () => {
    const before = udpBackends([
      udp("11.0.0.1", 53, [
        ["10.0.0.1", 5353, 1],
        ["10.0.0.2", 5353, 0],
      ]),
      udp("fd01:c::0:1", 53, [["fd00::1", 53, 1]]),
      { protocol: "tcp", ip: "11.0.0.1", port: 53, backends: [{ ip: "10.0.0.9", port: 53, weight: 1 }] },
    ]);
    const after = udpBackends([
      udp("11.0.0.1", 53, [
        ["10.0.0.2", 5353, 1],
        ["10.0.0.3", 5353, 1],
      ]),
    ]);
    assert.deepEqual(staleFlows(before, after), [
      { vip: "11.0.0.1", port: 53, backend: "10.0.0.1", backendPort: 5353 },
      { vip: "fd01:c::1", port: 53, backend: "fd00::1", backendPort: 53 },
    ]);
    // Drained (weight 0) is still a backend: its flows stay.
    const drained = udpBackends([
      udp("11.0.0.1", 53, [
        ["10.0.0.1", 5353, 0],
        ["10.0.0.2", 5353, 0],
      ]),
      udp("fd01:c::1", 53, [["fd00::1", 53, 0]]),
    ]);
    assert.deepEqual(staleFlows(before, drained), []);
  });

  it("deletes by VIP and answering backend, with the family for IPv6", () => {
    assert.deepEqual(conntrackArgs({ vip: "11.0.0.1", port: 53, backend: "10.0.0.1", backendPort: 5353 }), [
      "-D",
      "-p",
      "udp",
      "--orig-dst",
      "11.0.0.1",
      "--orig-port-dst",
      "53",
      "--reply-src",
      "10.0.0.1",
      "--reply-port-src",
      "5353",
    ]);
    assert.deepEqual(conntrackArgs({ vip: "fd01:c::1", port: 53, backend: "fd00::1", backendPort: 53 }).slice(0, 3), ["-D", "-f", "ipv6"]);
  });
});

describe("l4lb UDP flows: what each table deletes (a recording conntrack)", () => {
  let dir = "";
  let log = "";
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-udpflows-"));
    log = path.join(dir, "calls");
    fs.writeFileSync(
      path.join(dir, "conntrack"),
      `#!/bin/sh\necho "$*" >> "${log}"\necho "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted." >&2\nexit 0\n`,
      {
        mode: 0o755,
      },
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("deletes only for backends that left, once; unchanged objects cost nothing; a VIP gone takes its backends; counted", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const flows = createUdpFlows({ logger: quiet(), conntrack: path.join(dir, "conntrack"), registry });
    const calls = (): string[] => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []);
    const a1 = udp("11.0.0.1", 53, [
      ["10.0.0.1", 53, 1],
      ["10.0.0.2", 53, 1],
    ]);
    const tcp: DataplaneVip = { protocol: "tcp", ip: "11.0.0.1", port: 53, backends: [{ ip: "10.0.0.9", port: 53, weight: 1 }] };
    flows.update([a1, tcp]);
    flows.update([a1, tcp]); // the same objects: nothing to compare
    const a2 = udp("11.0.0.1", 53, [["10.0.0.1", 53, 1]]);
    flows.update([a2]); // the TCP VIP gone: not ours
    await flows.idle();
    assert.deepEqual(calls(), ["-D -p udp --orig-dst 11.0.0.1 --orig-port-dst 53 --reply-src 10.0.0.2 --reply-port-src 53"]);
    // Two objects at one key (names that sanitise alike): their union counts.
    const b = udp("11.0.0.1", 53, [["10.0.0.3", 53, 1]]);
    flows.update([a2, b]);
    flows.update([b]);
    flows.update([]);
    await flows.idle();
    assert.deepEqual(calls().slice(1), [
      "-D -p udp --orig-dst 11.0.0.1 --orig-port-dst 53 --reply-src 10.0.0.1 --reply-port-src 53",
      "-D -p udp --orig-dst 11.0.0.1 --orig-port-dst 53 --reply-src 10.0.0.3 --reply-port-src 53",
    ]);
    assert.match(await registry.metrics(), /^l4lb_udp_flows_deleted_total 6$/m);
  });

  it("with the socket LB: each removed (VIP, backend) also goes to abortSockets, even without conntrack; counted; a failure is a warning", async () => {
    const registry = createRegistry();
    const asked: string[] = [];
    const warned: string[] = [];
    const logger = Object.assign(quiet(), { warn: (...a: unknown[]) => void warned.push(String(a.find((x) => typeof x === "string"))) });
    const flows = createUdpFlows({
      logger,
      conntrack: path.join(dir, "missing"),
      registry,
      abortSockets: async (f) => {
        asked.push(`${f.vip}:${f.port} ${f.backend}:${f.backendPort}`);
        if (f.backend === "10.0.0.9") throw new Error("ss failed");
        return 2;
      },
    });
    flows.update([
      udp("11.0.0.1", 53, [
        ["10.0.0.1", 53, 1],
        ["10.0.0.2", 53, 0],
        ["10.0.0.9", 53, 1],
      ]),
    ]);
    flows.update([udp("11.0.0.1", 53, [["10.0.0.2", 53, 0]])]);
    await flows.idle();
    assert.deepEqual(asked, ["11.0.0.1:53 10.0.0.1:53", "11.0.0.1:53 10.0.0.9:53"]);
    assert.match(await registry.metrics(), /^l4lb_udp_sockets_aborted_total 2$/m);
    assert.ok(warned.includes("aborting connected UDP sockets failed"), warned.join("; "));
  });

  it("without a conntrack binary: warns once, tries no more", async () => {
    const warned: string[] = [];
    const logger = Object.assign(quiet(), { warn: (...a: unknown[]) => void warned.push(String(a.find((x) => typeof x === "string"))) });
    const flows = createUdpFlows({ logger, conntrack: path.join(dir, "missing") });
    flows.update([udp("11.0.0.1", 53, [["10.0.0.1", 53, 1]])]);
    flows.update([]);
    flows.update([udp("11.0.0.2", 53, [["10.0.0.1", 53, 1]])]);
    flows.update([]);
    await flows.idle();
    assert.equal(warned.length, 1, warned.join("; "));
    assert.match(warned[0]!, /not found: UDP flows to removed backends stay until idle/);
  });
});

/**
 * One UDP socket on the node sends a datagram every 50 ms to a VIP with two live backends and
 * prints who answered, line by line: its conntrack flow pins it to one backend. When that
 * backend leaves the table (still running, still answering), the next datagrams must reach the
 * other; while it is only drained (weight 0) they must not move.
 */
const SENDER = `
const dgram = require("node:dgram");
const [host, port] = [process.argv[1], +process.argv[2]];
const u = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
u.on("message", (m) => console.log(m.toString().split(" ")[0]));
const t = setInterval(() => u.send("hi", port, host), 50);
setTimeout(() => { clearInterval(t); u.close(); }, 20000);
process.stdin.on("end", () => process.exit(0)); process.stdin.resume();`;

describe("l4lb UDP flows of removed backends (real nft and conntrack in network namespaces)", function () {
  this.timeout(60_000);
  const node = `dcnet-l4lb-udpf-${process.pid}`;
  const taskNs = `dcnet-l4lb-udpt-${process.pid}`;
  const children: ChildProcess[] = [];
  let driver: NftDriver;

  before(async function () {
    const why =
      (await nftUnavailable()) ??
      (await sh("conntrack", ["--version"]).then(
        () => undefined,
        () => "no conntrack binary (Debian package conntrack)",
      ));
    if (why) {
      console.warn(`    l4lb UDP flow tests skipped: ${why}`);
      this.skip();
    }
    await addNetns(node);
    await addNetns(taskNs);
    const ip = (ns: string, ...args: string[]) => sh("ip", ["-n", ns, ...args]);
    await ip(node, "link", "add", "h0", "type", "veth", "peer", "name", "t0", "netns", taskNs);
    await ip(node, "addr", "add", "10.98.0.1/24", "dev", "h0");
    await ip(node, "-6", "addr", "add", "fd98::1/64", "dev", "h0", "nodad");
    await ip(node, "link", "set", "h0", "up");
    for (const a of ["10.98.0.2/24", "10.98.0.3/24"]) await ip(taskNs, "addr", "add", a, "dev", "t0");
    for (const a of ["fd98::2/64", "fd98::3/64"]) await ip(taskNs, "-6", "addr", "add", a, "dev", "t0", "nodad");
    await ip(taskNs, "link", "set", "t0", "up");
    await ip(taskNs, "route", "add", "default", "via", "10.98.0.1");
    await ip(taskNs, "-6", "route", "add", "default", "via", "fd98::1");
    children.push(
      await startServers(taskNs, [
        { proto: "udp", host: "10.98.0.2", port: 5353, name: "a" },
        { proto: "udp", host: "10.98.0.3", port: 5353, name: "b" },
        { proto: "udp", host: "fd98::2", port: 5353, name: "a" },
        { proto: "udp", host: "fd98::3", port: 5353, name: "b" },
      ]),
    );
    driver = await createNftDriver({
      logger: quiet(),
      netns: node,
      reconcileIntervalMs: 0,
      registry: createRegistry({ defaultMetrics: false }),
    });
  });
  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await driver?.close();
    await delNetns(taskNs);
    await delNetns(node);
  });

  for (const [vip, a, b] of [
    ["11.0.0.5", "10.98.0.2", "10.98.0.3"],
    ["fd01:c::5", "fd98::2", "fd98::3"],
  ] as const) {
    it(`${vip}: a sender pinned to a backend stays while it is drained and moves when it is removed (both still answer)`, async () => {
      const both = (wa: number, wb: number): DataplaneVip =>
        udp(vip, 53, [
          [a, 5353, wa],
          [b, 5353, wb],
        ]);
      await driver.apply([both(1, 1)]);
      const sender = spawn("ip", ["netns", "exec", node, process.execPath, "-e", SENDER, vip, "53"], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      children.push(sender);
      const got: string[] = [];
      sender.stdout.setEncoding("utf8").on("data", (d: string) => got.push(...d.split("\n").filter((l) => l !== "")));
      try {
        await eventually(() => assert.ok(got.length >= 5, `answers so far: ${got.join(" ")}`), 5_000, 50);
        const pinned = got[0]!;
        assert.ok(pinned === "a" || pinned === "b");
        assert.deepEqual([...new Set(got)], [pinned], "one socket, one flow, one backend");
        // Drained: no new flows go there, but this one stays.
        await driver.apply([pinned === "a" ? both(0, 1) : both(1, 0)]);
        const drainedAt = got.length;
        await eventually(() => assert.ok(got.length >= drainedAt + 10), 5_000, 50);
        assert.deepEqual([...new Set(got.slice(drainedAt))], [pinned], "a drained backend keeps its flows");
        // Removed (it still answers): the flow is deleted and the next datagram is balanced again.
        const other = pinned === "a" ? "b" : "a";
        await driver.apply([udp(vip, 53, [[pinned === "a" ? b : a, 5353, 1]])]);
        const removedAt = got.length;
        await eventually(
          () => {
            const since = got.slice(removedAt);
            assert.ok(since.length >= 5 && since.slice(-5).every((x) => x === other), `after the removal: ${since.join(" ")}`);
          },
          5_000,
          50,
        );
      } finally {
        sender.stdin.end();
      }
    });
  }
});

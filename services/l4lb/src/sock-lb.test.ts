import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DataplaneVip } from "./dataplane";
import { createNftDriver } from "./driver-nft";
import { backendHex, cgroup2Mount, resolveCgroup, slotKeyHex, startSockLb, vipKeyHex, vipValueHex, type SockLb } from "./sock-lb";
import { abortConnectedUdp, cookieKeyHex, parseSsSockets } from "./sock-lb-udp";
import { addNetns, connectMany, delNetns, nftUnavailable, sh, startServers } from "./testutil-netns";
import { quiet } from "./testutil-service";
import { createRegistry } from "@dcnet/core";

describe("l4lb socket LB: map encoding", () => {
  it("socket cookies as revnat keys (little-endian u64); ss -e lines parsed into local, peer and cookie", () => {
    assert.deepEqual(cookieKeyHex(0x3ebn), ["eb", "03", "00", "00", "00", "00", "00", "00"]);
    assert.deepEqual(cookieKeyHex(0x0102030405060708n), ["08", "07", "06", "05", "04", "03", "02", "01"]);
    assert.deepEqual(
      parseSsSockets(
        [
          "0      0          127.0.0.1:56254    127.0.0.1:9999 ino:1451169 sk:3eb cgroup:/ <->",
          "ESTAB 0 0 [fd99::1]:40000 [fd99::3]:5353 ino:7 sk:1f cgroup:/x <->",
          "garbage",
          "",
        ].join("\n"),
      ),
      [
        { local: "127.0.0.1:56254", peer: "127.0.0.1:9999", cookie: 0x3ebn },
        { local: "[fd99::1]:40000", peer: "[fd99::3]:5353", cookie: 0x1fn },
      ],
    );
  });

  it("keys and values in the byte order the BPF program reads (address and port in network order, ids little-endian), IPv4 and IPv6", () => {
    assert.equal(vipKeyHex("11.0.0.1", 80, "tcp"), "0b 00 00 01 00 50 06 00");
    assert.equal(vipKeyHex("172.16.0.1", 8443, "udp"), "ac 10 00 01 20 fb 11 00");
    assert.equal(vipValueHex(258, 3), "02 01 00 00 03 00 00 00");
    assert.equal(slotKeyHex(1, 1023), "01 00 00 00 ff 03 00 00");
    assert.equal(backendHex({ ip: "10.99.0.2", port: 8080 }), "0a 63 00 02 1f 90 00 00");
    assert.equal(vipKeyHex("fd01:c::1", 80, "tcp"), "fd 01 00 0c 00 00 00 00 00 00 00 00 00 00 00 01 00 50 06 00");
    assert.equal(backendHex({ ip: "::ffff:10.0.0.1", port: 443 }), "00 00 00 00 00 00 00 00 00 00 ff ff 0a 00 00 01 01 bb 00 00");
  });
});

/**
 * The real program in the kernel: a node namespace with no route to 11.0.0.0/8 and no nft table,
 * so a connect to a VIP works only if the program rewrote it. The clients run inside a cgroup of
 * our own, the program is attached to that cgroup only.
 */
/** Connects to argv[1]:80 and prints what getpeername says. */
const PEER = `const c = require("node:net").connect(80, process.argv[1], () => { console.log(c.remoteAddress + ":" + c.remotePort); c.destroy(); });
c.on("error", (e) => console.log("error " + e.code));`;

/**
 * UDP through the VIP from the node namespace (in the cgroup unless told otherwise): `sockets`
 * sockets send `per` datagrams each, one after another, connected or not; each reply as
 * `<backend name> <source the application saw>`, or `error <code>`. With `rounds` > 1 the same
 * sockets send again after `between()` resolves (to change the VIP meanwhile).
 */
const UDP_CLIENT = `
const dgram = require("node:dgram");
const { host, port, sockets, per, connected, rounds } = JSON.parse(process.argv[1]);
const family = host.includes(":") ? "udp6" : "udp4";
const socks = [];
const ask = (u) => new Promise((resolve) => {
  const timer = setTimeout(() => { u.removeAllListeners("message"); resolve("error TIMEOUT"); }, 2000);
  u.once("message", (m, r) => { clearTimeout(timer); resolve(m.toString().split(" ")[0] + " " + (r.address.includes(":") ? "[" + r.address + "]" : r.address) + ":" + r.port); });
  const cb = (e) => { if (e) { clearTimeout(timer); u.removeAllListeners("message"); resolve("error " + e.code); } };
  if (connected) u.send("hi", cb); else u.send("hi", port, host, cb);
});
const round = async () => {
  const out = [];
  for (const u of socks) { const got = []; for (let i = 0; i < per; i++) got.push(await ask(u)); out.push(got); }
  console.log(JSON.stringify(out));
};
(async () => {
  for (let i = 0; i < sockets; i++) {
    const u = dgram.createSocket(family); u.on("error", () => {});
    if (connected) await new Promise((ok) => u.connect(port, host, ok));
    socks.push(u);
  }
  for (let r = 0; r < rounds; r++) {
    if (r > 0) await new Promise((ok) => process.stdin.once("data", ok));
    await round();
  }
  process.exit(0);
})();`;

describe("l4lb socket LB (real BPF program, cgroup, network namespaces)", function () {
  this.timeout(60_000);
  const node = `dcnet-l4lb-slb-node-${process.pid}`;
  const taskNs = `dcnet-l4lb-slb-task-${process.pid}`;
  const pin = `dcnet_l4lb_test_${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-sock-lb-test-"));
  let cg = "";
  const servers: ChildProcess[] = [];
  const open: SockLb[] = [];

  /**
   * A VIP at 11.0.0.1 or fd01:c::1 (`family`) with the two backends .2 and .3 of the task namespace
   * (the IPv6 one written uncanonically, as a label may), weights `w2` and `w3`.
   */
  const vipOf =
    (protocol: "tcp" | "udp", port: number, backendPort: number) =>
    (w2: number, w3: number, family: 4 | 6 = 4): DataplaneVip => ({
      protocol,
      ip: family === 4 ? "11.0.0.1" : "fd01:c::1",
      port,
      backends: [
        { ip: family === 4 ? "10.99.0.2" : "fd99::2", port: backendPort, weight: w2 },
        { ip: family === 4 ? "10.99.0.3" : "fd99:0:0:0::3", port: backendPort, weight: w3 },
      ],
    });
  /** TCP :80 → b2/b3 (IPv6: v2/v3) on 8080. */
  const web = vipOf("tcp", 80, 8080);
  /** UDP :53 → u2/u3 (IPv6: uv2/uv3) on 5353. */
  const dns = vipOf("udp", 53, 5353);
  /** The VIP with its first backend (.2) only. */
  const only2 = (v: DataplaneVip): DataplaneVip => ({ ...v, backends: [v.backends[0]!] });
  /** A second TCP VIP: port 81 → b2. */
  const alt: DataplaneVip = { protocol: "tcp", ip: "11.0.0.1", port: 81, backends: [{ ip: "10.99.0.2", port: 8080, weight: 1 }] };
  const start = async (bpftool?: string): Promise<SockLb> => {
    const s = await startSockLb({ cgroup: cg, pin, netns: node, logger: quiet(), ...(bpftool ? { bpftool } : {}) });
    open.push(s);
    return s;
  };
  const names = async (proto: "tcp" | "udp", port: number, inCgroup = true, n = 16): Promise<string[]> =>
    [
      ...new Set(
        (await connectMany(node, proto, "11.0.0.1", port, n, inCgroup ? cg : undefined)).map((a) =>
          a.startsWith("error ") ? a : a.split(" ")[0]!,
        ),
      ),
    ].sort();
  /** What getpeername says after a TCP connect to `host`:80 from the node namespace, in the cgroup. */
  const peerOf = (host: string): Promise<string> =>
    sh("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg, "ip", "netns", "exec", node, process.execPath, "-e", PEER, host]);
  /** Runs UDP_CLIENT in the node namespace; `between` runs between rounds. */
  const udpRounds = async (
    o: { host: string; port?: number; connected: boolean; sockets: number; per: number; rounds?: number; inCgroup?: boolean },
    between?: () => Promise<unknown>,
  ): Promise<string[][][]> => {
    const rounds = o.rounds ?? 1;
    const args = ["netns", "exec", node, process.execPath, "-e", UDP_CLIENT, JSON.stringify({ port: 53, ...o, rounds })];
    const child =
      o.inCgroup === false
        ? spawn("ip", args, { stdio: ["pipe", "pipe", "inherit"] })
        : spawn("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec ip "$@"', cg, ...args], { stdio: ["pipe", "pipe", "inherit"] });
    const out: string[][][] = [];
    let buf = "";
    const done = new Promise<void>((resolve, reject) => {
      child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`UDP client exited ${String(code)}`))));
    });
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        out.push(JSON.parse(buf.slice(0, nl)) as string[][]);
        buf = buf.slice(nl + 1);
        if (out.length < rounds)
          void (async () => {
            await between?.();
            child.stdin.write("next\n");
          })();
      }
    });
    await done;
    return out;
  };
  const inNsNft = (): Promise<string> => sh("ip", ["netns", "exec", node, "nft", "list", "table", "ip", "dcnet_l4lb"]);
  const attached = async (): Promise<number> =>
    (JSON.parse((await sh("bpftool", ["-j", "cgroup", "show", cg])).trim() || "[]") as unknown[]).length;

  before(async function () {
    const why =
      (await nftUnavailable()) ??
      (await sh("clang", ["--version"]).then(
        () => undefined,
        (e: Error) => `clang is not available: ${e.message}`,
      )) ??
      (await sh("bpftool", ["version"]).then(
        () => undefined,
        (e: Error) => `bpftool is not available: ${e.message}`,
      )) ??
      (cgroup2Mount() === undefined ? "no cgroup v2 hierarchy is mounted" : undefined);
    if (why) {
      console.warn(`    l4lb socket LB tests skipped: ${why}`);
      this.skip();
    }
    cg = path.join(cgroup2Mount()!, `dcnet-sock-lb-test-${process.pid}`);
    fs.mkdirSync(cg);
    await addNetns(node);
    await addNetns(taskNs);
    const ip = (ns: string, ...args: string[]) => sh("ip", ["-n", ns, ...args]);
    await ip(node, "link", "add", "h0", "type", "veth", "peer", "name", "t0", "netns", taskNs);
    await ip(node, "addr", "add", "10.99.0.1/24", "dev", "h0");
    await ip(node, "link", "set", "h0", "up");
    await ip(taskNs, "addr", "add", "10.99.0.2/24", "dev", "t0");
    await ip(taskNs, "addr", "add", "10.99.0.3/24", "dev", "t0");
    await ip(taskNs, "link", "set", "t0", "up");
    await ip(node, "-6", "addr", "add", "fd99::1/64", "dev", "h0", "nodad");
    await ip(taskNs, "-6", "addr", "add", "fd99::2/64", "dev", "t0", "nodad");
    await ip(taskNs, "-6", "addr", "add", "fd99::3/64", "dev", "t0", "nodad");
    servers.push(
      await startServers(taskNs, [
        { proto: "tcp", host: "10.99.0.2", port: 8080, name: "b2" },
        { proto: "tcp", host: "10.99.0.3", port: 8080, name: "b3" },
        { proto: "udp", host: "10.99.0.2", port: 5353, name: "u2" },
        { proto: "udp", host: "10.99.0.3", port: 5353, name: "u3" },
        { proto: "udp", host: "fd99::2", port: 5353, name: "uv2" },
        { proto: "udp", host: "fd99::3", port: 5353, name: "uv3" },
        { proto: "tcp", host: "fd99::2", port: 8080, name: "v2" },
        { proto: "tcp", host: "fd99::3", port: 8080, name: "v3" },
      ]),
    );
  });

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  after(async () => {
    for (const s of servers) s.kill("SIGKILL");
    await delNetns(taskNs);
    await delNetns(node);
    if (cg) fs.rmdirSync(cg);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a TCP connect in the cgroup goes straight to a backend; outside the cgroup it is left alone", async () => {
    // Nothing else routes 11.0.0.1 in the node namespace.
    assert.deepEqual(await names("tcp", 80, true, 2), ["error ENETUNREACH"]);
    const s = await start();
    await s.apply([web(1, 1), dns(1, 1)]);
    assert.deepEqual([...s.installed()].sort(), ["11.0.0.1:53/udp", "11.0.0.1:80/tcp"]);
    assert.deepEqual(await names("tcp", 80), ["b2", "b3"]);
    assert.deepEqual(await names("tcp", 80, false, 2), ["error ENETUNREACH"]);
    // The application sees the VIP as its peer, as it would through the table's DNAT.
    const peer = await peerOf("11.0.0.1");
    assert.equal(peer.trim(), "11.0.0.1:80");
    // The backend sees the node's own address: nothing was masqueraded.
    assert.match((await connectMany(node, "tcp", "11.0.0.1", 80, 1, cg))[0]!, /^b[23] 10\.99\.0\.1$/);
  });

  it("IPv6: a TCP connect to an IPv6 VIP goes to its IPv6 backends and getpeername shows the VIP; weights and removal as for IPv4", async () => {
    const web6 = (w2: number, w3: number): DataplaneVip => web(w2, w3, 6);
    const names6 = async (inCgroup = true, n = 16): Promise<string[]> =>
      [
        ...new Set(
          (await connectMany(node, "tcp", "fd01:c::1", 80, n, inCgroup ? cg : undefined)).map((a) =>
            a.startsWith("error ") ? a : a.split(" ")[0]!,
          ),
        ),
      ].sort();
    assert.deepEqual(await names6(true, 2), ["error ENETUNREACH"]);
    const s = await start();
    await s.apply([web(1, 1), web6(1, 1)]);
    assert.deepEqual([...s.installed()].sort(), ["11.0.0.1:80/tcp", "[fd01:c::1]:80/tcp"]);
    assert.deepEqual(await names6(), ["v2", "v3"]);
    assert.deepEqual(await names("tcp", 80), ["b2", "b3"]);
    assert.deepEqual(await names6(false, 2), ["error ENETUNREACH"]);
    const peer = await peerOf("fd01:c::1");
    assert.equal(peer.trim(), "fd01:c::1:80");
    await s.apply([web(1, 1), web6(0, 1)]);
    assert.deepEqual(await names6(), ["v3"]);
    await s.apply([web(1, 1)]);
    assert.deepEqual([...s.installed()], ["11.0.0.1:80/tcp"]);
    assert.deepEqual(await names6(true, 2), ["error ENETUNREACH"]);
    // Nothing of the IPv6 VIP is left in the maps.
    for (const m of ["vips6", "slots6"]) {
      const left = JSON.parse(
        (await sh("bpftool", ["-j", "map", "dump", "pinned", `/sys/fs/bpf/${pin}/maps/${m}`])).trim() || "[]",
      ) as unknown[];
      assert.equal(left.length, 0, `${m}: ${JSON.stringify(left)}`);
    }
    assert.deepEqual(await names("tcp", 80), ["b2", "b3"]);
  });

  it("UDP, IPv4 and IPv6: datagrams to a VIP go to a backend and the replies come from the VIP; an unconnected socket keeps its backend until the VIP changes", async () => {
    const s = await start();
    await s.apply([dns(1, 1), dns(1, 1, 6)]);
    assert.deepEqual([...s.installed()].sort(), ["11.0.0.1:53/udp", "[fd01:c::1]:53/udp"]);
    for (const [host, vip, want] of [
      ["11.0.0.1", "11.0.0.1:53", ["u2", "u3"]],
      ["fd01:c::1", "[fd01:c::1]:53", ["uv2", "uv3"]],
    ] as const) {
      for (const connected of [false, true]) {
        const [got] = await udpRounds({ host, connected, sockets: 16, per: 3 });
        const what = `${host} ${connected ? "connected" : "unconnected"}: ${JSON.stringify(got)}`;
        // Every reply's source is the VIP (recvmsg), as resolvers require.
        assert.ok(
          got!.flat().every((r) => r.endsWith(` ${vip}`)),
          what,
        );
        // A socket stays on one backend; 16 sockets reach both.
        assert.ok(
          got!.every((sock) => new Set(sock.map((r) => r.split(" ")[0])).size === 1),
          what,
        );
        assert.deepEqual([...new Set(got!.flat().map((r) => r.split(" ")[0]))].sort(), want, what);
      }
    }
    // Outside the cgroup nothing routes the VIP.
    const [outside] = await udpRounds({ host: "11.0.0.1", connected: false, sockets: 1, per: 1, inCgroup: false });
    assert.deepEqual(outside, [["error ENETUNREACH"]]);
    // Drain u2 while the sockets are open: unconnected sockets move to u3 (the VIP's slots changed).
    const [before, after] = await udpRounds({ host: "11.0.0.1", connected: false, sockets: 16, per: 1, rounds: 2 }, () =>
      s.apply([dns(0, 1), dns(1, 1, 6)]),
    );
    assert.ok(before!.flat().includes("u2 11.0.0.1:53"), JSON.stringify(before));
    assert.deepEqual([...new Set(after!.flat())], ["u3 11.0.0.1:53"]);
    // Removed: the datagram goes to the VIP address, which nothing routes here.
    await s.apply([dns(1, 1, 6)]);
    const [gone] = await udpRounds({ host: "11.0.0.1", connected: false, sockets: 1, per: 1 });
    assert.deepEqual(gone, [["error ENETUNREACH"]]);
  });

  it("connected UDP sockets sent to a removed backend are aborted, IPv4 and IPv6; the others and a direct socket to that backend are not", async () => {
    const s = await start();
    await s.apply([dns(1, 1), dns(1, 1, 6)]);
    for (const [host, gone, keep, vip] of [
      ["11.0.0.1", "10.99.0.3", "u2", "11.0.0.1"],
      ["fd01:c::1", "fd99::3", "uv2", "fd01:c::1"],
    ] as const) {
      const family = host === "11.0.0.1" ? 4 : 6;
      let abortedN = -1;
      // Between the rounds, once both clients have done their first: the backend .3 leaves the VIP, and its sockets are aborted.
      let calls = 0;
      let release = (): void => {};
      const both = new Promise<void>((r) => (release = r));
      let once: Promise<void> | undefined;
      const between = async (): Promise<void> => {
        if (++calls === 2) release();
        await both;
        await (once ??= (async () => {
          await s.apply(family === 4 ? [only2(dns(1, 1)), dns(1, 1, 6)] : [dns(1, 1), only2(dns(1, 1, 6))]);
          abortedN = await abortConnectedUdp(
            { vip, port: 53, backend: gone, backendPort: 5353 },
            // IPv4: the revnat map dumped once; IPv6: each socket's cookie looked up.
            { revnat: s.revnat, bpftool: "bpftool", timeoutMs: 10_000, netns: node, lookupLimit: family === 4 ? 0 : 16 },
          );
        })());
      };
      const [viaVip, direct] = await Promise.all([
        udpRounds({ host, connected: true, sockets: 16, per: 1, rounds: 2 }, between),
        udpRounds({ host: gone, port: 5353, connected: true, sockets: 1, per: 1, rounds: 2 }, between),
      ]);
      const [r1, r2] = viaVip;
      const onGone = r1!.map((sock) => !sock[0]!.startsWith(`${keep} `));
      const what = `${host}: ${JSON.stringify(viaVip)} aborted ${abortedN}`;
      assert.ok(onGone.some(Boolean) && !onGone.every(Boolean), `16 sockets reach both backends: ${what}`);
      assert.equal(abortedN, onGone.filter(Boolean).length, what);
      // An aborted socket is disconnected with ECONNABORTED pending: its next send fails (EDESTADDRREQ), or a read reports ECONNABORTED.
      r2!.forEach((sock, i) => assert.equal(/^error (EDESTADDRREQ|ECONNABORTED)$/.test(sock[0]!), onGone[i], `socket ${i}: ${what}`));
      assert.ok(
        r2!.filter((_, i) => !onGone[i]).every((sock) => sock[0]!.startsWith(`${keep} `)),
        what,
      );
      // The socket connected to the backend's own address, not through the VIP, still talks to it.
      assert.equal(direct[1]![0]![0], direct[0]![0]![0], `direct socket: ${JSON.stringify(direct)}`);
      assert.ok(!direct[1]![0]![0]!.startsWith("error"), `direct socket: ${JSON.stringify(direct)}`);
      await s.apply([dns(1, 1), dns(1, 1, 6)]);
    }
  });

  it("only the node's network namespace is balanced: a bridge-mode task's connect in the cgroup is left to the table", async () => {
    const s = await start();
    await s.apply([web(1, 1)]);
    // The task namespace reaches 11.0.0.1 only through the node, which here has no table and does not forward.
    await sh("ip", ["-n", taskNs, "route", "add", "default", "via", "10.99.0.1"]);
    try {
      const got = await connectMany(taskNs, "tcp", "11.0.0.1", 80, 1, cg);
      assert.match(got[0]!, /^error /, "rewritten in the task's namespace, it would reach b2/b3 in that very namespace");
      assert.deepEqual(await names("tcp", 80), ["b2", "b3"]);
    } finally {
      await sh("ip", ["-n", taskNs, "route", "del", "default"]);
    }
  });

  it("weights: a drained backend gets no new connections, a VIP without slots or removed is no longer rewritten", async () => {
    const s = await start();
    await s.apply([web(1, 1)]);
    await s.apply([web(1, 0)]);
    assert.deepEqual(await names("tcp", 80), ["b2"]);
    await s.apply([web(0, 3)]);
    assert.deepEqual(await names("tcp", 80), ["b3"]);
    await s.apply([web(0, 0)]);
    assert.deepEqual([...s.installed()], []);
    assert.deepEqual(await names("tcp", 80, true, 2), ["error ENETUNREACH"]);
    await s.apply([web(1, 1), alt]);
    await s.apply([alt]);
    assert.deepEqual(await names("tcp", 80, true, 2), ["error ENETUNREACH"]);
    assert.deepEqual(await names("tcp", 81, true, 2), ["b2"]);
    // Old slots are deleted: only the live VIP's remain.
    const slots = JSON.parse(await sh("bpftool", ["-j", "map", "dump", "pinned", `/sys/fs/bpf/${pin}/maps/slots`])) as unknown[];
    assert.equal(slots.length, 1);
  });

  it("a failed batch reloads the program with empty maps and rejects naming it; the next apply writes the whole table", async () => {
    const flag = path.join(dir, "fail-batch");
    const bpftool = path.join(dir, "bpftool");
    fs.writeFileSync(
      bpftool,
      `#!/bin/sh\nif [ "$1" = batch ] && [ -e ${flag} ]; then echo "Error: injected" >&2; exit 255; fi\nexec bpftool "$@"\n`,
      {
        mode: 0o755,
      },
    );
    const s = await start(bpftool);
    await s.apply([web(1, 1)]);
    fs.writeFileSync(flag, "");
    await assert.rejects(s.apply([web(1, 0), alt]), /socket LB: bpftool batch of \d+ commands failed: .*injected/);
    assert.deepEqual([...s.installed()], []);
    // Reloaded empty: nothing is rewritten until the next apply.
    assert.deepEqual(await names("tcp", 80, true, 2), ["error ENETUNREACH"]);
    fs.rmSync(flag);
    await s.apply([web(1, 0), alt]);
    assert.deepEqual(await names("tcp", 80), ["b2"]);
    assert.deepEqual(await names("tcp", 81, true, 2), ["b2"]);
  });

  it("a program left attached by an earlier run is replaced; close detaches it", async () => {
    const first = await start();
    await first.apply([web(1, 0)]);
    const second = await startSockLb({ cgroup: cg, pin, netns: node, logger: quiet() });
    assert.equal(await attached(), 8, "connect, sendmsg, recvmsg, getpeername (4 and 6), once each");
    await second.apply([web(0, 1)]);
    assert.deepEqual(await names("tcp", 80), ["b3"]);
    await second.close();
    assert.equal(await attached(), 0);
    assert.deepEqual(await names("tcp", 80, true, 2), ["error ENETUNREACH"]);
    assert.ok(!fs.existsSync(`/sys/fs/bpf/${pin}`));
  });

  it("the nft driver with socketLb: the cgroup's connects are rewritten, the table is there for the rest; a bad cgroup is a warning", async () => {
    // Without local routes the table cannot take the node's own connections: what works is the socket LB.
    const registry = createRegistry({ defaultMetrics: false });
    const metric = async (name: string): Promise<number | undefined> =>
      (await registry.getSingleMetric(name)?.get())?.values.reduce((sum, v) => sum + v.value, 0);
    const driver = await createNftDriver({
      logger: quiet(),
      netns: node,
      routes: false,
      checkSysctls: false,
      reconcileIntervalMs: 0,
      socketLb: { cgroup: cg, pin },
      registry,
    });
    try {
      assert.deepEqual(driver.warnings, []);
      assert.deepEqual(driver.socketLb?.(), { cgroup: cg, vips: 0 });
      await driver.apply([web(1, 1)]);
      assert.deepEqual(driver.socketLb?.(), { cgroup: cg, vips: 1 });
      assert.equal(await metric("l4lb_socket_lb_vips"), 1);
      assert.deepEqual(await names("tcp", 80), ["b2", "b3"]);
      assert.deepEqual(await names("tcp", 80, false, 2), ["error ENETUNREACH"]);
      assert.match(await inNsNft(), /map vips/);
      await driver.apply([web(0, 1)]);
      assert.deepEqual(await names("tcp", 80), ["b3"]);
      // Someone detaches our program: the driver's reconcile loads it again and writes the table.
      await sh("bpftool", ["cgroup", "detach", cg, "connect4", "pinned", `/sys/fs/bpf/${pin}/progs/dcnet_connect4`]);
      assert.deepEqual(await names("tcp", 80, true, 2), ["error ENETUNREACH"]);
      assert.equal(await driver.reconcile(), 1);
      assert.deepEqual(await names("tcp", 80), ["b3"]);
      assert.equal(await metric("l4lb_socket_lb_reloads_total"), 1);
      assert.equal(await metric("l4lb_socket_lb_errors_total"), 0);
      // Any one of the programs counts: sendmsg4 detached alone is loaded again too.
      await sh("bpftool", ["cgroup", "detach", cg, "sendmsg4", "pinned", `/sys/fs/bpf/${pin}/progs/dcnet_sendmsg4`]);
      assert.equal(await attached(), 7);
      assert.equal(await driver.reconcile(), 1);
      assert.equal(await attached(), 8);
      assert.equal(await metric("l4lb_socket_lb_reloads_total"), 2);
      assert.equal(await driver.reconcile(), 0);
    } finally {
      await driver.close();
    }
    assert.equal(await attached(), 0);
    const without = await createNftDriver({
      logger: quiet(),
      netns: node,
      routes: false,
      checkSysctls: false,
      reconcileIntervalMs: 0,
      socketLb: { cgroup: "/nonexistent-cgroup", pin },
    });
    await without.close();
    assert.equal(without.warnings.length, 1);
    assert.match(without.warnings[0]!, /^socket LB off: socket LB: cgroup \/nonexistent-cgroup is not a directory/);
  });

  it("a compiled object is loaded as it is (no clang needed: the image's case); cgroup auto is the cgroup the process is in, and works there", async () => {
    const object = path.join(dir, "prebuilt.o");
    const src = path.resolve(__dirname, "..", "bpf", "sock-lb.c");
    const triplet = { x64: ["-I/usr/include/x86_64-linux-gnu"], arm64: ["-I/usr/include/aarch64-linux-gnu"] }[process.arch as string] ?? [];
    await sh("clang", ["-O2", "-g", "-target", "bpf", ...triplet, "-c", src, "-o", object]);
    const s = await startSockLb({ cgroup: cg, pin, netns: node, logger: quiet(), object, clang: "/nonexistent/clang" });
    await s.apply([web(1, 1)]);
    assert.deepEqual(await names("tcp", 80), ["b2", "b3"]);
    // Detached before the auto case below, whose programs would otherwise see connects this one already rewrote.
    await s.close();
    assert.equal(await attached(), 0);
    await assert.rejects(
      startSockLb({ cgroup: cg, pin: `${pin}_x`, logger: quiet(), object: path.join(dir, "missing.o"), clang: "/nonexistent/clang" }),
      /missing\.o/,
    );
    // A process moved into our cgroup resolves auto to it, and the socket LB it starts with auto
    // (its probe not moved: already there) balances the connects of its children in the node
    // namespace. This process, in another cgroup, resolves auto elsewhere.
    const child = [
      `const { startSockLb } = require(${JSON.stringify(path.join(__dirname, "sock-lb.js"))});`,
      "const { execFileSync } = require('node:child_process');",
      "const [pin, ns, object, vip] = process.argv.slice(1); const noop = () => {};",
      "const logger = { debug: noop, info: noop, warn: noop, error: noop };",
      "startSockLb({ cgroup: 'auto', pin, netns: ns, object, logger }).then(async (s) => {",
      "  await s.apply([JSON.parse(vip)]);",
      "  const conn = \"const c = require('node:net').connect(80, '11.0.0.1'); c.on('data', (d) => { console.log(String(d).split(' ')[0]); c.destroy(); }); c.on('error', (e) => console.log('error ' + e.code));\";",
      "  const got = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', conn], { encoding: 'utf8' }).trim();",
      "  await s.close(); console.log(JSON.stringify({ cgroup: s.cgroup, got }));",
      "}, (e) => { console.error(e.message); process.exit(1); });",
    ].join("\n");
    const out = await sh("sh", [
      "-c",
      'echo $$ > "$0/cgroup.procs" && exec "$@"',
      cg,
      process.execPath,
      "-e",
      child,
      `${pin}_auto`,
      node,
      object,
      JSON.stringify(web(0, 1)),
    ]);
    assert.deepEqual(JSON.parse(out.trim()), { cgroup: cg, got: "b3" });
    assert.notEqual(await resolveCgroup("auto"), cg);
    assert.equal(await resolveCgroup("/x/y"), "/x/y");
  });

  it("refuses a cgroup that does not exist, naming it", async () => {
    await assert.rejects(
      startSockLb({ cgroup: "/sys/fs/cgroup/no-such-dcnet-cgroup", pin, logger: quiet() }),
      /cgroup \/sys\/fs\/cgroup\/no-such-dcnet-cgroup is not a directory/,
    );
  });
});

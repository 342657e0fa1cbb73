import { strict as assert } from "node:assert";
import type { ChildProcess } from "node:child_process";
import type { DataplaneVip } from "./dataplane";
import { createNft, type Nft } from "./nft-apply";
import { renderDelta, renderFull } from "./nft-render";
import { addNetns, connectMany, delNetns, holdConnection, inNs, nftUnavailable, sh, startServers } from "./testutil-netns";

/**
 * Real traffic through the nftables data plane. Two namespaces joined by a veth pair:
 *
 *   node  (our table; h0 10.99.0.1/24, fd99::1/64; forwarding on; VIPs routed locally)
 *   task  (t0 10.99.0.2 + 10.99.0.3, fd99::2; default routes via the node) — a bridge-mode task
 *
 * Backends "b2"/"b3" listen in the task namespace, "h1" on the node. Clients run on the node
 * (output hook) and in the task namespace (prerouting; reaching b2 from there is the hairpin).
 */
describe("l4lb data plane traffic (real nft, network namespaces)", function () {
  this.timeout(60_000);
  const node = `dcnet-l4lb-node-${process.pid}`;
  const taskNs = `dcnet-l4lb-task-${process.pid}`;
  const servers: ChildProcess[] = [];
  let nft: Nft;
  let applied: DataplaneVip[] = [];

  const web = (weights: [number, number]): DataplaneVip => ({
    protocol: "tcp",
    ip: "11.0.0.1",
    port: 80,
    backends: [
      { ip: "10.99.0.2", port: 8080, weight: weights[0] },
      { ip: "10.99.0.3", port: 8080, weight: weights[1] },
    ],
  });
  const dns: DataplaneVip = { protocol: "udp", ip: "11.0.0.1", port: 53, backends: [{ ip: "10.99.0.2", port: 5353, weight: 1 }] };
  const local: DataplaneVip = { protocol: "tcp", ip: "11.0.0.3", port: 80, backends: [{ ip: "10.99.0.1", port: 8081, weight: 1 }] };
  const v6: DataplaneVip = { protocol: "tcp", ip: "fd01:c::1", port: 80, backends: [{ ip: "fd99::2", port: 8080, weight: 1 }] };

  const apply = async (next: DataplaneVip[]): Promise<void> => {
    await nft.apply(renderDelta(applied, next));
    applied = next;
  };
  const answers = async (ns: string, proto: "tcp" | "udp", host: string, port: number, n = 24): Promise<string[]> =>
    [...new Set((await connectMany(ns, proto, host, port, n)).map((a) => a.split(" ")[0]!))].sort();

  before(async function () {
    const why = await nftUnavailable();
    if (why) {
      console.warn(`    l4lb traffic tests skipped: ${why}`);
      this.skip();
    }
    await addNetns(node);
    await addNetns(taskNs);
    const ip = (ns: string, ...args: string[]) => sh("ip", ["-n", ns, ...args]);
    await ip(node, "link", "add", "h0", "type", "veth", "peer", "name", "t0", "netns", taskNs);
    await ip(node, "addr", "add", "10.99.0.1/24", "dev", "h0");
    await ip(node, "-6", "addr", "add", "fd99::1/64", "dev", "h0", "nodad");
    await ip(node, "link", "set", "h0", "up");
    await ip(taskNs, "addr", "add", "10.99.0.2/24", "dev", "t0");
    await ip(taskNs, "addr", "add", "10.99.0.3/24", "dev", "t0");
    await ip(taskNs, "-6", "addr", "add", "fd99::2/64", "dev", "t0", "nodad");
    await ip(taskNs, "link", "set", "t0", "up");
    await ip(taskNs, "route", "add", "default", "via", "10.99.0.1");
    await ip(taskNs, "-6", "route", "add", "default", "via", "fd99::1");
    await inNs(node, "sysctl", ["-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
    // What the service will do per VIP (upstream: table local, dev minuteman): the node's own
    // connections need a route to the VIP before the output hook rewrites it.
    for (const vip of ["11.0.0.1", "11.0.0.2", "11.0.0.3"])
      await ip(node, "route", "add", "local", `${vip}/32`, "dev", "lo", "table", "local");
    await ip(node, "-6", "route", "add", "local", "fd01:c::1/128", "dev", "lo", "table", "local");
    servers.push(
      await startServers(taskNs, [
        { proto: "tcp", host: "10.99.0.2", port: 8080, name: "b2" },
        { proto: "tcp", host: "10.99.0.3", port: 8080, name: "b3" },
        { proto: "udp", host: "10.99.0.2", port: 5353, name: "u2" },
        { proto: "tcp", host: "fd99::2", port: 8080, name: "v6" },
      ]),
      await startServers(node, [{ proto: "tcp", host: "10.99.0.1", port: 8081, name: "h1" }]),
    );
    nft = createNft({ netns: node });
    applied = [web([1, 1]), dns, local, v6];
    await nft.apply(renderFull(applied));
  });

  after(async () => {
    for (const s of servers) s.kill("SIGKILL");
    await delNetns(taskNs);
    await delNetns(node);
  });

  it("the node's own connections to a TCP VIP reach every backend", async () => {
    assert.deepEqual(await answers(node, "tcp", "11.0.0.1", 80), ["b2", "b3"]);
  });

  it("a task namespace reaches every backend, its own address included (hairpin), masqueraded to the node", async () => {
    const got = await connectMany(taskNs, "tcp", "11.0.0.1", 80, 24);
    assert.deepEqual([...new Set(got.map((a) => a.split(" ")[0]))].sort(), ["b2", "b3"]);
    // The backend sees the node's address: replies come back through the node, which undoes the DNAT.
    assert.deepEqual([...new Set(got.map((a) => a.split(" ")[1]))], ["10.99.0.1"]);
  });

  it("a backend on the node itself is reached from the node and from the task", async () => {
    assert.deepEqual(await answers(node, "tcp", "11.0.0.3", 80, 3), ["h1"]);
    assert.deepEqual(await answers(taskNs, "tcp", "11.0.0.3", 80, 3), ["h1"]);
  });

  it("the node's own connections take the route's src: the VIP itself without one, the node's address with one (no SNAT rewrite)", async () => {
    const localOf = async (): Promise<string> => {
      const h = await holdConnection(node, "11.0.0.1", 80);
      try {
        // Either way the backend sees the node's address (masquerade, or already the source).
        assert.match(h.greeting, /^b[23] 10\.99\.0\.1\b/);
        return /^\S+\s+\S+\s+\S+\s+(\S+):\d+\s+11\.0\.0\.1:80/m.exec(await inNs(node, "ss", ["-Htn", "dst", "11.0.0.1"]))?.[1] ?? "?";
      } finally {
        h.close();
      }
    };
    const route = (vip: string, ...src: string[]) =>
      sh("ip", ["-n", node, "route", "replace", "local", `${vip}/32`, "dev", "lo", "table", "local", ...src]);
    assert.equal(await localOf(), "11.0.0.1");
    await route("11.0.0.1", "src", "10.99.0.1");
    await route("11.0.0.3", "src", "10.99.0.1");
    try {
      assert.equal(await localOf(), "10.99.0.1");
      assert.deepEqual(await answers(node, "tcp", "11.0.0.1", 80), ["b2", "b3"]);
      assert.deepEqual(await answers(node, "tcp", "11.0.0.3", 80, 3), ["h1"]);
      assert.deepEqual(await answers(taskNs, "tcp", "11.0.0.1", 80), ["b2", "b3"]);
    } finally {
      await route("11.0.0.1");
      await route("11.0.0.3");
    }
  });

  it("UDP VIPs work from the node and from the task", async () => {
    assert.deepEqual(await answers(node, "udp", "11.0.0.1", 53, 3), ["u2"]);
    assert.deepEqual(await answers(taskNs, "udp", "11.0.0.1", 53, 3), ["u2"]);
  });

  it("IPv6 VIPs work from the node and from the task", async () => {
    assert.deepEqual(await answers(node, "tcp", "fd01:c::1", 80, 3), ["v6"]);
    assert.deepEqual(await answers(taskNs, "tcp", "fd01:c::1", 80, 3), ["v6"]);
  });

  it("VIP traffic is not caught by a port-mapping DNAT at priority dstnat", async () => {
    // A mesos-sim-like port mapping that would send every port-80 connection to h1.
    await inNs(
      node,
      "nft",
      ["-f", "-"],
      [
        "table ip pm {",
        "  chain prerouting { type nat hook prerouting priority dstnat; policy accept; tcp dport 80 dnat to 10.99.0.1:8081; }",
        "  chain output { type nat hook output priority -100; policy accept; tcp dport 80 dnat to 10.99.0.1:8081; }",
        "}",
        "",
      ].join("\n"),
    );
    try {
      // The mapping is live: a locally routed address that is no VIP goes to h1 …
      assert.deepEqual(await answers(node, "tcp", "11.0.0.2", 80, 2), ["h1"]);
      assert.deepEqual(await answers(taskNs, "tcp", "11.0.0.2", 80, 2), ["h1"]);
      // … but the VIP does not.
      assert.deepEqual(await answers(node, "tcp", "11.0.0.1", 80), ["b2", "b3"]);
      assert.deepEqual(await answers(taskNs, "tcp", "11.0.0.1", 80), ["b2", "b3"]);
    } finally {
      await inNs(node, "nft", ["delete", "table", "ip", "pm"]);
    }
  });

  it("a drained backend (weight 0) gets no new connections while its open connections continue", async () => {
    await apply([web([1, 1]), dns, local, v6]);
    // Hold connections until one lands on b3.
    const held = [];
    let onB3;
    for (let i = 0; i < 30 && !onB3; i++) {
      const h = await holdConnection(taskNs, "11.0.0.1", 80);
      held.push(h);
      if (h.greeting.startsWith("b3 ")) onB3 = h;
    }
    try {
      assert.ok(onB3, "no connection reached b3");
      await apply([web([1, 0]), dns, local, v6]);
      assert.deepEqual(await answers(node, "tcp", "11.0.0.1", 80), ["b2"]);
      assert.deepEqual(await answers(taskNs, "tcp", "11.0.0.1", 80), ["b2"]);
      assert.equal(await onB3.echo("still there"), "still there");
      await apply([web([1, 1]), dns, local, v6]);
      assert.deepEqual(await answers(node, "tcp", "11.0.0.1", 80), ["b2", "b3"]);
    } finally {
      for (const h of held) h.close();
    }
  });

  it("with every backend drained, new connections are refused (TCP reset), not left to hang", async () => {
    await apply([web([0, 0]), dns, local, v6]);
    try {
      const t0 = Date.now();
      assert.deepEqual(await connectMany(node, "tcp", "11.0.0.1", 80, 2), ["error ECONNREFUSED", "error ECONNREFUSED"]);
      assert.deepEqual(await connectMany(taskNs, "tcp", "11.0.0.1", 80, 2), ["error ECONNREFUSED", "error ECONNREFUSED"]);
      assert.ok(Date.now() - t0 < 3000);
    } finally {
      await apply([web([1, 1]), dns, local, v6]);
    }
  });

  it("a VIP removed by a delta stops answering; added back, it answers again", async () => {
    await apply([dns, local, v6]);
    const gone = await connectMany(taskNs, "tcp", "11.0.0.1", 80, 1);
    assert.match(gone[0]!, /^error /);
    await apply([web([1, 1]), dns, local, v6]);
    assert.deepEqual(await answers(taskNs, "tcp", "11.0.0.1", 80), ["b2", "b3"]);
  });
});

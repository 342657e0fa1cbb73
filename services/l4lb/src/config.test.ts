import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadL4lbConfig, rangesOf } from "./config";

const BUS = { DCNET_BUS__SERVERS: "nats://n1:4222" };

describe("l4lb config", () => {
  it("defaults: auto mode, 62081 / 50090 on 127.0.0.1, 11.0.0.0–11.255.255.254, 30 s reconcile, 10 min grace", () => {
    const c = loadL4lbConfig({ env: BUS });
    assert.equal(c.mode, "auto");
    assert.deepEqual(c.httpListen, { host: "127.0.0.1", port: 62081 });
    assert.deepEqual(c.grpcListen, { host: "127.0.0.1", port: 50090 });
    assert.deepEqual(c.namedIpv4Range, { min: "11.0.0.0", max: "11.255.255.254" });
    assert.equal(c.reconcileIntervalMs, 30_000);
    assert.equal(c.releaseGraceMs, 600_000);
    assert.equal(c.deadAgentGcMs, 900_000);
    assert.deepEqual(c.agent, { enabled: false, url: "http://127.0.0.1:5051", pollIntervalMs: 2000 });
    assert.equal(c.ipv6, true);
    assert.deepEqual(c.bus.servers, ["nats://n1:4222"]);
    assert.equal(rangesOf(c)[4].min, 11n << 24n);
  });

  it("ip_vip_allow: CIDRs, from a list or a comma-separated variable (default none); a bad one names the key", () => {
    assert.deepEqual(loadL4lbConfig({ env: BUS }).ipVipAllow, []);
    assert.deepEqual(loadL4lbConfig({ env: { ...BUS, DCNET_IP_VIP_ALLOW: "127.0.0.0/8, 11.9.0.0/16" } }).ipVipAllow, [
      "127.0.0.0/8",
      "11.9.0.0/16",
    ]);
    assert.throws(() => loadL4lbConfig({ env: BUS, overrides: { ipVipAllow: ["127.0.0.1"] } }), /ip_vip_allow\.0: a CIDR/);
  });

  it("reads snake_case keys from the file and DCNET_* from the environment (environment wins)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "l4lb-config-"));
    const file = path.join(dir, "l4lb.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        mode: "userspace",
        bus: { servers: ["nats://a:4222"] },
        named_ipv4_range: { min: "10.200.0.0", max: "10.200.255.255" },
        reconcile_interval_ms: 5000,
        agent: { enabled: true, poll_interval_ms: 500 },
        http_listen: { port: 1234 },
        what_is_this: 1,
      }),
    );
    const warnings: string[] = [];
    const c = loadL4lbConfig({ file, env: { DCNET_MODE: "nft", DCNET_AGENT__URL: "10.0.0.5:5051", DCNET_RELEASE_GRACE_MS: "1000" } }, (m) =>
      warnings.push(m),
    );
    assert.equal(c.mode, "nft");
    assert.deepEqual(c.namedIpv4Range, { min: "10.200.0.0", max: "10.200.255.255" });
    assert.equal(c.reconcileIntervalMs, 5000);
    assert.deepEqual(c.agent, { enabled: true, url: "10.0.0.5:5051", pollIntervalMs: 500 });
    assert.equal(c.httpListen.port, 1234);
    assert.equal(c.releaseGraceMs, 1000);
    assert.deepEqual(warnings, ['config key "what_is_this" is not used by l4lb; ignored']);
    // Errors in the file name its keys as written there.
    fs.writeFileSync(file, JSON.stringify({ bus: { servers: ["nats://a:4222"] }, named_ipv4_range: { min: "11.0.0.300" } }));
    assert.throws(
      () => loadL4lbConfig({ file, env: {} }),
      (e: Error & { field?: string }) => e.field === "named_ipv4_range.min",
    );
    fs.writeFileSync(file, JSON.stringify({ bus: { servers: ["nats://a:4222"] }, agent: { poll_interval_ms: "fast" } }));
    assert.throws(
      () => loadL4lbConfig({ file, env: {} }),
      (e: Error & { field?: string }) => e.field === "agent.poll_interval_ms",
    );
    fs.rmSync(dir, { recursive: true });
  });

  it("ignores other services' keys in the environment (the node agent's DCNET_GRPC__PORT, mesos-sim's DCNET_AGENT__ID)", () => {
    const c = loadL4lbConfig({
      env: {
        ...BUS,
        DCNET_GRPC__PORT: "50051",
        DCNET_HTTP__PORT: "9100",
        DCNET_AGENT__ID: "agent-1",
        DCNET_MASTERS: "10.0.0.1",
        DCNET_AGENT__ENABLED: "true",
      },
    });
    assert.equal(c.grpcListen.port, 50090);
    assert.equal(c.httpListen.port, 62081);
    assert.equal(c.agent.enabled, true);
  });

  const fails = (env: Record<string, string>, field: RegExp): void => {
    assert.throws(
      () => loadL4lbConfig({ env: { ...BUS, ...env } }),
      (e: Error & { field?: string }) => {
        assert.match(e.field ?? "", field, e.message);
        return true;
      },
    );
  };

  it("errors name the key", () => {
    assert.throws(() => loadL4lbConfig({ env: {} }), /^Error: bus: required: l4lb needs the bus|bus: required/);
    fails({ DCNET_MODE: "ipvs" }, /^DCNET_MODE$/);
    fails({ DCNET_NAMED_IPV4_RANGE__MIN: "11.0.0.300" }, /^DCNET_NAMED_IPV4_RANGE__MIN$/);
    fails({ DCNET_NAMED_IPV6_RANGE__MAX: "11.0.0.1" }, /^DCNET_NAMED_IPV6_RANGE__MAX$/);
    fails({ DCNET_NAMED_IPV4_RANGE__MIN: "12.0.0.0", DCNET_NAMED_IPV4_RANGE__MAX: "11.0.0.0" }, /^named_ipv4_range$/);
    fails({ DCNET_RECONCILE_INTERVAL_MS: "10" }, /^DCNET_RECONCILE_INTERVAL_MS$/);
    fails({ DCNET_AGENT__POLL_INTERVAL_MS: "fast" }, /^DCNET_AGENT__POLL_INTERVAL_MS$/);
    fails({ DCNET_HTTP_LISTEN__PORT: "70000" }, /^DCNET_HTTP_LISTEN__PORT$/);
    fails({ DCNET_BUS__SERVERS: "http://x" }, /^DCNET_BUS__SERVERS\.0$/);
    fails({ DCNET_NFT__TABLE: "bad table" }, /^DCNET_NFT__TABLE$/);
    fails({ DCNET_NFT__ROUTE_SOURCE: "eth0" }, /^DCNET_NFT__ROUTE_SOURCE/);
    fails({ DCNET_NFT__ROUTE_SOURCE: "10.0.0.1,10.0.0.2" }, /^DCNET_NFT__ROUTE_SOURCE/);
    fails({ DCNET_NFT__SOCKET_LB_CGROUP: "sys/fs/cgroup" }, /^DCNET_NFT__SOCKET_LB_CGROUP$/);
    fails({ DCNET_NFT__SOCKET_LB_CGROUP: "Auto" }, /^DCNET_NFT__SOCKET_LB_CGROUP$/);
  });

  it("nft.route_source: auto by default, none, or addresses (file or environment); nft.socket_lb_cgroup off by default", () => {
    assert.equal(loadL4lbConfig({ env: BUS }).nft.routeSource, "auto");
    assert.equal(loadL4lbConfig({ env: BUS }).nft.socketLbCgroup, undefined);
    assert.equal(loadL4lbConfig({ env: { ...BUS, DCNET_NFT__SOCKET_LB_CGROUP: "/sys/fs/cgroup" } }).nft.socketLbCgroup, "/sys/fs/cgroup");
    assert.equal(loadL4lbConfig({ env: { ...BUS, DCNET_NFT__SOCKET_LB_CGROUP: "auto" } }).nft.socketLbCgroup, "auto");
    assert.equal(loadL4lbConfig({ env: { ...BUS, DCNET_NFT__ROUTE_SOURCE: "none" } }).nft.routeSource, "none");
    assert.deepEqual(loadL4lbConfig({ env: { ...BUS, DCNET_NFT__ROUTE_SOURCE: "10.0.0.5,fd00::5" } }).nft.routeSource, [
      "10.0.0.5",
      "fd00::5",
    ]);
  });
});

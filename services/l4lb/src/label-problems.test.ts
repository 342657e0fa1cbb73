import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { createLogger, createMemoryHub, createRegistry, eventually, unary, type Registry } from "@dcnet/core";
import { l4lbv1 } from "@dcnet/proto";
import type { L4lb, L4lbSnapshot } from "./service";
import { RecordingDriver, startL4lb, testConfig } from "./testutil-service";

/**
 * IP VIP labels on addresses vip-guard.ts refuses, and labels @dcnet/mesos drops with their port (legacy `VIP_PORT<n>` with a bad scheme or index, a
 * discovery port whose protocol is not tcp/udp) flow like any bad label through the agent path:
 * logged naming app and label, counted in `l4lb_label_problems`, shown by /v1/vips/detail and
 * gRPC — and the task's good VIPs still work.
 */
describe("l4lb agent side: refused IP VIPs and labels dropped while reading the task's ports are reported", function () {
  this.timeout(30_000);
  const FRAMEWORK = "fw-1";
  const task = {
    name: "shop",
    task_id: { value: "shop.1" },
    framework_id: { value: FRAMEWORK },
    agent_id: { value: "agent-1" },
    state: "TASK_RUNNING",
    labels: {
      labels: [
        { key: "VIP_PORT0", value: "TCP://10.1.1.1:80" }, // upper-case scheme: fine
        { key: "VIP_PORT1", value: "http://10.1.1.2:80" }, // wrong scheme
        { key: "VIP_PORT9", value: "tcp://10.1.1.3:80" }, // index beyond the task's one port
      ],
    },
    resources: [{ name: "ports", type: "RANGES", ranges: { range: [{ begin: 31044, end: 31044 }] } }],
    statuses: [
      { state: "TASK_RUNNING", timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.7" }] }] } },
    ],
    discovery: {
      visibility: "FRAMEWORK",
      name: "shop",
      ports: {
        ports: [
          { number: 31044, name: "http", protocol: "tcp", labels: { labels: [{ key: "VIP_0", value: "/shop:80" }] } },
          { number: 31045, name: "sctp", protocol: "sctp", labels: { labels: [{ key: "VIP_1", value: "/shop-sctp:80" }] } },
          {
            number: 31044,
            name: "http2",
            protocol: "tcp",
            labels: {
              labels: [
                { key: "VIP_2", value: "127.0.0.1:80" }, // loopback
                { key: "VIP_3", value: "11.1.2.3:80" }, // in the named range
                { key: "VIP_4", value: "10.0.0.7:22" }, // this agent's own address
                { key: "VIP_5", value: "172.16.0.9:80" }, // fine
              ],
            },
          },
        ],
      },
    },
  };
  let server: http.Server;
  let url = "";
  let svc: L4lb;
  let registry: Registry;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const type = (JSON.parse(body) as { type: string }).type;
        const answer =
          type === "GET_AGENT"
            ? { type, get_agent: { agent_info: { id: { value: "agent-1" }, hostname: "10.0.0.7", port: 5051 } } }
            : {
                type,
                get_state: {
                  get_tasks: { launched_tasks: [task], completed_tasks: [] },
                  get_frameworks: { frameworks: [{ framework_info: { id: { value: FRAMEWORK }, name: "marathon" } }] },
                },
              };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    registry = createRegistry({ defaultMetrics: false });
    const logger = createLogger({
      service: "l4lb-test",
      level: "warn",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    svc = await startL4lb(
      createMemoryHub(),
      testConfig({ node: { id: "agent-10-0-0-7", address: "10.0.0.7" }, agent: { enabled: true, url, pollIntervalMs: 100 } }),
      { driver: new RecordingDriver(), registry, logger },
    );
  });
  after(async () => {
    await svc?.lifecycle.stop();
    server?.close();
  });

  const EXPECTED = [
    ["VIP_1", "/shop-sctp:80", /discovery\.ports\.ports\[1\], whose protocol "sctp" is not tcp or udp/],
    ["VIP_2", "127.0.0.1:80", /refused: 127\.0\.0\.1 is a loopback address/],
    ["VIP_3", "11.1.2.3:80", /refused: 11\.1\.2\.3 is in the named-VIP range/],
    ["VIP_4", "10.0.0.7:22", /refused: 10\.0\.0\.7 is this agent's own address/],
    ["VIP_PORT1", "http://10.1.1.2:80", /has no tcp:\/\/ or udp:\/\/ scheme/],
    ["VIP_PORT9", "tcp://10.1.1.3:80", /names port index 9, but the task has 1 port\(s\)/],
  ] as const;

  it("the good VIPs work (an upper-case TCP:// scheme included)", async () => {
    await eventually(() => {
      const ids = svc.snapshot().vips.map((v) => v.id);
      assert.deepEqual(ids, ["tcp/ip:10.1.1.1/80", "tcp/ip:172.16.0.9/80", "tcp/name:shop.marathon/80"]);
    }, 10_000);
  });

  it("each dropped label is in /v1/vips/detail and gRPC, naming app, label, value and why", async () => {
    const check = (problems: readonly { app: string; label: string; value: string; reason: string; agentIp: string }[]): void => {
      const sorted = [...problems].sort((a, b) => a.label.localeCompare(b.label));
      assert.equal(sorted.length, EXPECTED.length, JSON.stringify(problems));
      EXPECTED.forEach(([label, value, reason], i) => {
        const p = sorted[i]!;
        assert.deepEqual([p.app, p.label, p.value, p.agentIp], ["shop", label, value, "10.0.0.7"]);
        assert.match(p.reason, reason);
      });
    };
    await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${svc.ports().http}/v1/vips/detail`);
      check(((await r.json()) as L4lbSnapshot).problems);
    }, 10_000);
    const client = new l4lbv1.L4lbServiceClient(`127.0.0.1:${svc.ports().grpc}`, grpc.credentials.createInsecure());
    try {
      check((await unary(client.listVips.bind(client), {})).problems);
    } finally {
      client.close();
    }
  });

  it("l4lb_label_problems counts them and each is logged once as a warning naming app and label", async () => {
    await eventually(async () => {
      const m = await registry.getSingleMetric("l4lb_label_problems")?.get();
      assert.equal(m?.values[0]?.value, EXPECTED.length);
    }, 10_000);
    await new Promise((r) => setTimeout(r, 300)); // a few more polls: still logged only once
    for (const [label, value] of EXPECTED) {
      const warned = lines.filter((l) => l["level"] === "warn" && l["label"] === label);
      assert.equal(warned.length, 1, `${label}: ${JSON.stringify(warned)}`);
      assert.equal(warned[0]!["app"], "shop");
      assert.equal(warned[0]!["value"], value);
      assert.match(String(warned[0]!["msg"]), new RegExp(`VIP label ${label} of shop ignored`));
    }
  });
});

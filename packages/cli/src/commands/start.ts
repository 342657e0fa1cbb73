import { randomBytes } from "node:crypto";
import { createLogger, createMemoryHub, createRegistry, validate, type Logger } from "@dcnet/core";
import { createDcosDns, loadDcosDnsConfig, type DcosDns } from "@dcnet/dcos-dns";
import { createL4lb, loadL4lbConfig, type L4lb } from "@dcnet/l4lb";
import { createMesosDns, parseMesosDnsConfig, type MesosDns } from "@dcnet/mesos-dns";
import { createMesosSim, mesosSimConfigSchema, type MesosSim } from "@dcnet/mesos-sim";
import { createNodeAgent, nodeConfigSchema, type NodeAgent } from "@dcnet/node";
import type { LevelWithSilent } from "../deps";

export interface EmbeddedOptions {
  nodes: number;
  /** First gRPC port; node i listens on grpcPort + i (0 = any free port). */
  grpcPort: number;
  /** First metrics port; node i listens on httpPort + i + 1 (0 = any free port). */
  httpPort: number;
  /** Mesos master port; Marathon on marathonPort; agents on agentPort + i. */
  masterPort: number;
  marathonPort: number;
  agentPort: number;
  /** Mesos-DNS DNS port (HTTP on 8123, gRPC on 50070). */
  mesosDnsPort: number;
  /** dcos-dns DNS port on `host` (a high port: no root needed); REST on 62080, gRPC on 50080. */
  dnsPort: number;
  host: string;
  logLevel: LevelWithSilent;
  /** Deploy the demo app. */
  demo: boolean;
}

export const embeddedDefaults: EmbeddedOptions = {
  nodes: 3,
  grpcPort: 50051,
  httpPort: 9100,
  masterPort: 5050,
  marathonPort: 8080,
  agentPort: 5051,
  mesosDnsPort: 61053,
  dnsPort: 8053,
  host: "127.0.0.1",
  logLevel: "warn",
  demo: true,
};

/** Two instances of an HTTP echo, the way a user would deploy it. */
export const DEMO_APP = {
  id: "/demo/hello",
  cmd: `node -e "require('http').createServer((q,s)=>s.end('hello from '+process.env.MESOS_TASK_ID+'\\\\n')).listen(+process.env.PORT0,process.env.HOST)"`,
  instances: 2,
  cpus: 0.1,
  mem: 32,
  // VIP port 8000, not 80: the embedded VIPs are served by the userspace proxy, and without root it cannot bind ports < 1024.
  portDefinitions: [{ port: 0, name: "http", labels: { VIP_0: "/hello:8000" } }],
};

/**
 * `dcnet start`: the embedded default. Every component runs in this process on
 * one in-process bus (the same signed-bus layer as NATS, over the in-process
 * transport), listening on loopback only: the node agents, a Mesos master with
 * Marathon, and two Mesos agents whose tasks run as real processes (host
 * mode; bridge mode needs root and is off here), Mesos-DNS, and one dcos-dns
 * on a high loopback port producing and serving the thisdcos.directory zones.
 * No Docker, no root.
 */
export async function startEmbedded(opts: EmbeddedOptions, out: (line: string) => void): Promise<() => Promise<void>> {
  const hub = createMemoryHub();
  const registry = createRegistry();
  const logger: Logger = createLogger({ service: "embedded", level: opts.logLevel });
  const cluster = { id: "embedded", key: randomBytes(24).toString("base64") };
  const agents: NodeAgent[] = [];
  const sims: MesosSim[] = [];
  let mesosDns: MesosDns | undefined;
  let dcosDns: DcosDns | undefined;
  const l4lbs: L4lb[] = [];
  const stop = async (): Promise<void> => {
    for (const l of l4lbs.reverse()) await l.lifecycle.stop();
    await dcosDns?.lifecycle.stop();
    await mesosDns?.lifecycle.stop();
    for (const s of sims.reverse()) await s.lifecycle.stop();
    for (const a of agents.reverse()) await a.lifecycle.stop();
  };
  const port = (base: number, i: number): number => (base ? base + i : 0);
  // Each agent on an address of its own (127.0.0.2, .3: all of 127/8 is local), as on separate
  // machines: l4lb keys an agent's backends by its address, and the agent's node (node-2, node-3)
  // announces the same address, so membership can mark those backends unreachable.
  const agentIp = (i: number): string => (opts.host === "127.0.0.1" ? `127.0.0.${i + 2}` : opts.host);
  try {
    for (let i = 0; i < opts.nodes; i++) {
      const config = validate(nodeConfigSchema, {
        cluster,
        bus: { kind: "memory" },
        node: {
          id: `node-${i + 1}`,
          address: i === 0 ? opts.host : agentIp(i - 1),
          role: i === 0 ? "master" : "agent",
          hostname: `node-${i + 1}`,
        },
        grpc: { host: opts.host, port: port(opts.grpcPort, i) },
        http: { host: opts.host, port: port(opts.httpPort, i + 1) },
        log: { level: opts.logLevel },
      });
      const agent = createNodeAgent(config, { logger, registry, hub });
      await agent.lifecycle.start();
      agents.push(agent);
    }
    const sim = async (raw: Record<string, unknown>): Promise<MesosSim> => {
      const s = createMesosSim(
        validate(mesosSimConfigSchema, { cluster, bus: { kind: "memory" }, log: { level: opts.logLevel }, ...raw }),
        {
          logger,
          registry,
          hub,
        },
      );
      await s.lifecycle.start();
      sims.push(s);
      return s;
    };
    await sim({
      roles: ["master"],
      master: { id: "master-1", ip: opts.host, host: opts.host, port: opts.masterPort, marathonPort: opts.marathonPort },
    });
    for (let i = 0; i < 2; i++) {
      await sim({
        roles: ["agent"],
        agent: {
          id: `agent-${i + 1}`,
          ip: agentIp(i),
          host: agentIp(i),
          hostname: `agent-${i + 1}`,
          port: port(opts.agentPort, i),
          portRange: [31000 + i * 500, 31499 + i * 500],
          bridge: { enabled: "off" },
        },
      });
    }
    const masterAddr = `${opts.host}:${sims[0]!.master!.ports().master}`;
    mesosDns = createMesosDns(
      parseMesosDnsConfig(
        {
          masters: [masterAddr],
          port: opts.mesosDnsPort,
          httpport: 8123,
          listener: opts.host,
          HTTPListener: opts.host,
          refreshSeconds: 30,
          externalOn: false,
        },
        { env: {}, warn: (m) => logger.warn(m) },
      ),
      { env: {}, grpcPort: 50070 },
      { logger, registry },
    );
    await mesosDns.lifecycle.start();
    dcosDns = createDcosDns(
      loadDcosDnsConfig(
        {
          env: {},
          overrides: {
            cluster,
            bus: { kind: "memory" },
            node: { id: "dcos-dns" },
            bindIps: [opts.host],
            udpPort: opts.dnsPort,
            tcpPort: opts.dnsPort,
            masters: [opts.host],
            mesosDns: [`${opts.host}:${mesosDns.ports().dnsUdp}`],
            nodeIp: opts.host,
            producer: {
              enabled: true,
              mesosMasters: [masterAddr],
              mesosDnsGrpc: `${opts.host}:${mesosDns.ports().grpc}`,
              settleMs: 1000,
              recoveryTimeoutMs: 10_000,
            },
            log: { level: opts.logLevel },
          },
        },
        (m) => logger.warn(m),
      ),
      { logger, registry, hub },
    );
    await dcosDns.lifecycle.start();
    // l4lb, one per agent (each publishes its agent's backends); the first also runs the data plane:
    // the userspace proxy, on named-VIP addresses from 127.11.0.0/16 (local without any setup, no root).
    for (let i = 0; i < 2; i++) {
      const l = createL4lb(
        loadL4lbConfig({
          env: {},
          overrides: {
            cluster,
            bus: { kind: "memory" },
            node: { id: `l4lb-agent-${i + 1}` },
            mode: "userspace",
            agent: { enabled: true, url: `http://${agentIp(i)}:${sims[i + 1]!.agent!.port()}` },
            namedIpv4Range: { min: "127.11.0.1", max: "127.11.255.254" },
            ipv6: false,
            httpListen: { host: opts.host, port: i === 0 ? 62081 : 0 },
            grpcListen: { host: opts.host, port: i === 0 ? 50090 : 0 },
            log: { level: opts.logLevel },
          },
        }),
        {
          logger,
          registry,
          hub,
          ...(i === 0
            ? {}
            : {
                driver: {
                  mode: "userspace" as const,
                  apply: async () => undefined,
                  reconcile: async () => 0,
                  close: async () => undefined,
                },
              }),
        },
      );
      await l.lifecycle.start();
      l4lbs.push(l);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const master = sims[0]!.master!;
  const { master: masterPort, marathon } = master.ports();
  if (opts.demo) {
    // The master needs a moment to win the lease; Marathon forwards nothing until then.
    for (let i = 0; i < 50 && !master.isLeader(); i++) await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`http://${opts.host}:${marathon}/v2/apps`, { method: "POST", body: JSON.stringify(DEMO_APP) });
    if (res.status !== 201) out(`demo app not deployed: HTTP ${res.status} ${await res.text()}`);
  }
  out(
    `dcnet embedded: ${opts.nodes} nodes, a Mesos master with Marathon and 2 agents, on an in-process bus (cluster "embedded"), loopback only`,
  );
  out("");
  for (const a of agents)
    out(`  ${a.identity.nodeId.padEnd(8)} gRPC ${opts.host}:${a.ports.grpc}   metrics http://${opts.host}:${a.ports.http}/metrics`);
  out(`  mesos    http://${opts.host}:${masterPort}/master/state   (Operator API: POST /api/v1)`);
  out(`  marathon http://${opts.host}:${marathon}/v2/apps`);
  for (const s of sims.slice(1)) out(`  ${s.agent!.record().id.padEnd(8)} http://${s.agent!.record().ip}:${s.agent!.port()}/state`);
  out(`  mesos-dns DNS ${opts.host}:${mesosDns!.ports().dnsUdp}   http://${opts.host}:${mesosDns!.ports().http}/v1/enumerate`);
  const dnsAt = dcosDns!.ports().dns[0]!;
  out(
    `  dcos-dns DNS ${opts.host}:${dnsAt.udp}    http://${opts.host}:${dcosDns!.ports().http}/v1/records   gRPC ${opts.host}:${dcosDns!.ports().grpc}`,
  );
  out(`  l4lb     http://${opts.host}:62081/v1/vips   gRPC ${opts.host}:50090   (userspace proxy; named VIPs in 127.11.0.0/16)`);
  const first = `${opts.host}:${agents[0]?.ports.grpc}`;
  out("");
  out("Try:");
  out(`  npx dcnet status --addr ${first}                 # what node-1 sees of the cluster`);
  if (opts.demo)
    out(
      `  npx dcnet app show /demo/hello --marathon http://${opts.host}:${marathon}   # the demo app's tasks; curl one at <its agent's IP>:<port>`,
    );
  out(`  npx dcnet app deploy app.json --marathon http://${opts.host}:${marathon}`);
  if (opts.demo) out(`  npx dcnet dns lookup hello-demo.marathon.autoip.dcos.thisdcos.directory --server ${opts.host}:${dnsAt.udp}`);
  out(`  npx dcnet dns lookup leader.mesos --server ${opts.host}:${dnsAt.udp}          # forwarded to Mesos-DNS`);
  out(`  npx dcnet dns zones --addr ${opts.host}:${dcosDns!.ports().grpc}`);
  if (opts.demo) {
    out(`  npx dcnet vips --addr ${opts.host}:50090                    # the demo app's VIP /hello:8000 and its backends`);
    out(
      `  curl http://$(npx dcnet dns lookup hello.marathon.l4lb.thisdcos.directory --server ${opts.host}:${dnsAt.udp} --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).answers[0].value'):8000/`,
    );
  }
  out(`  curl -s http://${opts.host}:${masterPort}/master/state | head -c 600`);
  out("");
  out("Ctrl-C stops.");
  return stop;
}

import { randomBytes } from "node:crypto";
import { createLogger, createMemoryHub, createRegistry, validate, type Logger } from "@dcnet/core";
import type { LevelWithSilent } from "../deps";
import { createNodeAgent, nodeConfigSchema, type NodeAgent } from "@dcnet/node";

export interface EmbeddedOptions {
  nodes: number;
  /** First gRPC port; node i listens on grpcPort + i (0 = any free port). */
  grpcPort: number;
  /** First metrics port; node i listens on httpPort + i (0 = any free port). */
  httpPort: number;
  host: string;
  logLevel: LevelWithSilent;
}

export const embeddedDefaults: EmbeddedOptions = { nodes: 3, grpcPort: 50051, httpPort: 9100, host: "127.0.0.1", logLevel: "warn" };

/**
 * `dcnet start`: the embedded default. Every node runs in this process on one
 * in-process bus (the same signed-bus layer as NATS, over the in-process
 * transport), listening on loopback only. No Docker, no root.
 */
export async function startEmbedded(opts: EmbeddedOptions, out: (line: string) => void): Promise<() => Promise<void>> {
  const hub = createMemoryHub();
  const registry = createRegistry();
  const logger: Logger = createLogger({ service: "embedded", level: opts.logLevel });
  const key = randomBytes(24).toString("base64");
  const agents: NodeAgent[] = [];
  const stop = async (): Promise<void> => {
    for (const a of agents.reverse()) await a.lifecycle.stop();
  };
  try {
    for (let i = 0; i < opts.nodes; i++) {
      const config = validate(nodeConfigSchema, {
        cluster: { id: "embedded", key },
        bus: { kind: "memory" },
        node: { id: `node-${i + 1}`, address: opts.host, role: i === 0 ? "master" : "agent", hostname: `node-${i + 1}` },
        grpc: { host: opts.host, port: opts.grpcPort ? opts.grpcPort + i : 0 },
        http: { host: opts.host, port: opts.httpPort ? opts.httpPort + i + 1 : 0 },
        log: { level: opts.logLevel },
      });
      const agent = createNodeAgent(config, { logger, registry, hub });
      await agent.lifecycle.start();
      agents.push(agent);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  out(`dcnet embedded: ${opts.nodes} nodes on an in-process bus (cluster "embedded"), loopback only`);
  out("");
  for (const a of agents) {
    out(`  ${a.identity.nodeId.padEnd(8)} gRPC ${opts.host}:${a.ports.grpc}   metrics http://${opts.host}:${a.ports.http}/metrics`);
  }
  const first = `${opts.host}:${agents[0]?.ports.grpc}`;
  out("");
  out("Try:");
  out(`  npx dcnet status --addr ${first}        # what node-1 sees of the cluster`);
  out(`  npx dcnet health --addr ${first}        # grpc.health.v1`);
  out(`  curl -s http://${opts.host}:${agents[0]?.ports.http}/metrics | grep dcnet_`);
  out("");
  out("Ctrl-C stops.");
  return stop;
}

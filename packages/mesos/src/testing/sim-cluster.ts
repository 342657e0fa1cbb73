/**
 * The real mesos-sim in-process for tests (as services/mesos-sim/src/cluster.test.ts): masters with
 * Marathon and agents on an in-process bus, tasks running as real processes on 127.0.0.1.
 */
import { strict as assert } from "node:assert";
import { createLogger, createMemoryHub, createRegistry, eventually, validate, type MemoryHub } from "@dcnet/core";
import { createMesosSim, mesosSimConfigSchema, type MesosSim } from "@dcnet/mesos-sim";

export const simLogger = createLogger({ service: "test", level: "silent" });

export interface SimClusterOptions {
  /** The in-process bus (default: a new one); pass the hub the services under test use to share it. */
  hub?: MemoryHub;
  /** Cluster identity of the sims (default `sim` with a test key). */
  cluster?: { id: string; key: string };
}

export class SimCluster {
  readonly sims: MesosSim[] = [];
  readonly hub: MemoryHub;
  private readonly cluster: { id: string; key: string };

  constructor(options: SimClusterOptions = {}) {
    this.hub = options.hub ?? createMemoryHub();
    this.cluster = options.cluster ?? { id: "sim", key: "mesos-pkg-test-key-0000" };
  }

  private async start(raw: Record<string, unknown>): Promise<MesosSim> {
    const config = validate(mesosSimConfigSchema, {
      cluster: this.cluster,
      bus: { kind: "memory" },
      ...raw,
    });
    const sim = createMesosSim(config, { logger: simLogger, registry: createRegistry({ defaultMetrics: false }), hub: this.hub });
    await sim.lifecycle.start();
    this.sims.push(sim);
    return sim;
  }

  master(n: number): Promise<MesosSim> {
    return this.start({
      roles: ["master"],
      master: {
        id: `m${n}`,
        ip: "127.0.0.1",
        host: "127.0.0.1",
        port: 0,
        marathonPort: 0,
        grpcPort: 0,
        leaseMs: 600,
        renewMs: 100,
        agentTimeoutMs: 800,
        backoffMs: 100,
        heartbeatSeconds: 1,
      },
    });
  }

  /** An agent on 127.0.0.1 with host ports `portBase`…`portBase + 99` (bridge mode off: host-mode apps only). */
  agent(n: number, portBase: number): Promise<MesosSim> {
    return this.start({
      roles: ["agent"],
      agent: {
        id: `a${n}`,
        ip: "127.0.0.1",
        host: "127.0.0.1",
        port: 0,
        portRange: [portBase, portBase + 99],
        heartbeatMs: 100,
        bridge: { enabled: "off" },
      },
    });
  }

  leader(): MesosSim {
    const l = this.sims.filter((s) => s.master?.isLeader());
    assert.equal(l.length, 1, "one leader");
    return l[0]!;
  }

  /** Waits for a leader that has registered the Marathon framework. */
  async ready(): Promise<MesosSim> {
    return eventually(async () => {
      const l = this.leader();
      const res = await fetch(`http://${this.address(l)}/master/state`);
      const state = (await res.json()) as { frameworks: { name: string }[] };
      assert.ok(
        state.frameworks.some((f) => f.name === "marathon"),
        "marathon registered",
      );
      return l;
    }, 10_000);
  }

  /** `127.0.0.1:<master port>` of a master. */
  address(sim: MesosSim): string {
    return `127.0.0.1:${sim.master!.ports().master}`;
  }

  masters(): MesosSim[] {
    return this.sims.filter((s) => s.master);
  }

  marathon(path: string, init?: RequestInit): Promise<Response> {
    const m = this.masters()[0]!;
    return fetch(`http://127.0.0.1:${m.master!.ports().marathon}${path}`, {
      ...init,
      headers: { "content-type": "application/json", ...(init?.headers as Record<string, string> | undefined) },
    });
  }

  async deploy(app: Record<string, unknown>): Promise<void> {
    const res = await this.marathon("/v2/apps", { method: "POST", body: JSON.stringify(app) });
    assert.equal(res.status, 201, await res.text());
  }

  async scale(appId: string, instances: number): Promise<void> {
    const res = await this.marathon(`/v2/apps${appId}`, { method: "PUT", body: JSON.stringify({ instances }) });
    assert.equal(res.status, 200, await res.text());
  }

  async remove(appId: string): Promise<void> {
    const res = await this.marathon(`/v2/apps${appId}`, { method: "DELETE" });
    assert.equal(res.status, 200, await res.text());
  }

  /** Stops one process (a master stopping ends its streams; an agent's tasks die with it). */
  async kill(sim: MesosSim): Promise<void> {
    await sim.lifecycle.stop();
    this.sims.splice(this.sims.indexOf(sim), 1);
  }

  async stop(): Promise<void> {
    for (const s of [...this.sims].reverse()) await s.lifecycle.stop();
    this.sims.length = 0;
  }
}

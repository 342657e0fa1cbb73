/** Helpers for dcos-dns tests. */
import { createLogger, createRegistry, type Logger } from "@dcnet/core";
import { type DcosDnsConfig, loadDcosDnsConfig } from "./config";
import { createDcosDns, type DcosDns, type DcosDnsDeps } from "./service";

export const quiet = (): Logger => createLogger({ service: "dcos-dns-test", level: "silent" });

/** A config for tests: 127.0.0.1, ephemeral ports, no resolv.conf defaults. */
export function testConfig(over: Record<string, unknown> = {}): DcosDnsConfig {
  return loadDcosDnsConfig(
    {
      env: {},
      overrides: {
        bindIps: ["127.0.0.1"],
        udpPort: 0,
        tcpPort: 0,
        upstreamResolvers: [],
        masters: [],
        nodeIp: "10.9.0.1",
        httpListen: { host: "127.0.0.1", port: 0 },
        grpcListen: { host: "127.0.0.1", port: 0 },
        ...over,
      },
    },
    () => undefined,
  );
}

export async function startDcosDns(config: DcosDnsConfig, deps: Partial<DcosDnsDeps> = {}): Promise<DcosDns> {
  const svc = createDcosDns(config, { logger: quiet(), registry: createRegistry({ defaultMetrics: false }), ...deps });
  await svc.lifecycle.start();
  return svc;
}

/**
 * The userspace data plane as a process of its own, for benchmarks and manual tests:
 *
 *   node services/l4lb/dist/proxy/standalone.js '[{"protocol":"tcp","ip":"127.11.0.1","port":80,"backends":[{"ip":"127.0.0.1","port":8080,"weight":1}]}]'
 *
 * Applies the table (JSON `DataplaneVip[]`), prints `ready` on stdout, and on SIGTERM/SIGINT
 * closes and prints its counters (JSON) on stderr.
 */
import { createLogger } from "@dcnet/core";
import type { DataplaneVip } from "../dataplane";
import { createUserspaceDriver } from "./index";

async function main(): Promise<void> {
  const vips = JSON.parse(process.argv[2] ?? "[]") as DataplaneVip[];
  const logger = createLogger({ service: "l4lb-proxy", level: "warn", destination: process.stderr });
  const driver = createUserspaceDriver({ logger });
  await driver.apply(vips);
  const unbound = driver.stats().unbound;
  if (unbound.length > 0) throw new Error(`cannot bind: ${unbound.join(", ")}`);
  process.stdout.write("ready\n");
  const stop = (): void => {
    const stats = driver.stats();
    void driver.close().then(() => {
      process.stderr.write(`${JSON.stringify(stats)}\n`);
      process.exit(0);
    });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

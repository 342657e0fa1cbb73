import { createLogger, createRegistry, DcnetError, type LevelWithSilent } from "../deps";
import { findService, services, type RunnableService } from "../services";

export interface RunOptions {
  /** One or more services, started in this order in one process (stopped in reverse). */
  services: string[];
  configFile: string | undefined;
  env: Record<string, string | undefined>;
}

/**
 * `dcnet run <service> [<service>…]`: starts services in the foreground, in one
 * process (one metrics registry; each reads its sections of the same config);
 * resolves to a function that stops them in reverse order.
 */
export async function run(opts: RunOptions): Promise<() => Promise<void>> {
  const names = services.map((s) => s.name).join(", ");
  if (opts.services.length === 0) throw new DcnetError(3, `name a service (known: ${names})`, { field: "service" });
  const chosen: RunnableService[] = opts.services.map((name) => {
    const svc = findService(name);
    if (!svc) throw new DcnetError(3, `unknown service "${name}" (known: ${names})`, { field: "service" });
    return svc;
  });
  const registry = createRegistry();
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    for (const svc of chosen) {
      const started = await svc.start({
        configFile: opts.configFile,
        env: opts.env,
        registry,
        logger: (level) => createLogger({ service: svc.name, level: level as LevelWithSilent }),
      });
      stops.push(started.stop);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return stopAll;
}

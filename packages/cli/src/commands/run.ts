import { createLogger, createRegistry, DcnetError, type LevelWithSilent } from "../deps";
import { findService, services } from "../services";

export interface RunOptions {
  service: string | undefined;
  configFile: string | undefined;
  env: Record<string, string | undefined>;
}

/** `dcnet run <service>`: starts one service in the foreground; resolves to its stop function. */
export async function run(opts: RunOptions): Promise<() => Promise<void>> {
  const svc = opts.service ? findService(opts.service) : undefined;
  if (!svc) {
    const names = services.map((s) => s.name).join(", ");
    throw new DcnetError(3, opts.service ? `unknown service "${opts.service}" (known: ${names})` : `name a service (known: ${names})`, {
      field: "service",
    });
  }
  const registry = createRegistry();
  const started = await svc.start({
    configFile: opts.configFile,
    env: opts.env,
    registry,
    logger: (level) => createLogger({ service: svc.name, level: level as LevelWithSilent }),
  });
  return started.stop;
}

import pino, { type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LogOptions {
  /** Service name, in every line as `service`. */
  service: string;
  level?: LevelWithSilent;
  /** Extra fields in every line (node id, cluster id). */
  base?: Record<string, unknown>;
  /** Where lines go (default stdout); tests pass a stream. */
  destination?: pino.DestinationStream;
}

/** Structured JSON logs, one object per line, ISO time. */
export function createLogger(opts: LogOptions): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: opts.service, ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

// The CLI's one import point for core pieces, so commands stay short.
export { createLogger, createRegistry, DcnetError, unary, checkHealth } from "@dcnet/core";
export type { LevelWithSilent } from "pino";

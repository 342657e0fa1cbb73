/** The command line's options (node:util parseArgs), shared by main.ts and the help test. */
export function cliOptions(env: Record<string, string | undefined>) {
  return {
    config: { type: "string", short: "c" },
    addr: { type: "string", default: "127.0.0.1:50051" },
    service: { type: "string", default: "" },
    json: { type: "boolean", default: false },
    nodes: { type: "string" },
    "grpc-port": { type: "string" },
    "http-port": { type: "string" },
    "log-level": { type: "string" },
    marathon: { type: "string", default: env["DCNET_MARATHON"] ?? "http://127.0.0.1:8080" },
    "no-demo": { type: "boolean", default: false },
    server: { type: "string", default: env["DCNET_DNS"] ?? "198.51.100.1:53" },
    help: { type: "boolean", short: "h", default: false },
  } as const;
}

/** The commands main.ts dispatches (`help` and `version` included). */
export const COMMANDS = ["start", "run", "status", "health", "app", "dns", "vips", "version", "help"] as const;

#!/usr/bin/env node
import { parseArgs } from "node:util";
import { DcnetError } from "./deps";
import { helpText } from "./help";
import { appCommand } from "./commands/app";
import { dnsCommand } from "./commands/dns";
import { run } from "./commands/run";
import { embeddedDefaults, startEmbedded } from "./commands/start";
import { health, status } from "./commands/status";
import { vipsCommand } from "./commands/vips";
import { cliOptions } from "./options";
import { VERSION } from "@dcnet/node";

/** The only place that reads argv/env, handles signals and exits. */
async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: cliOptions(process.env),
  });
  const [command, ...rest] = positionals;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);

  if (values.help || command === undefined || command === "help") {
    out(helpText());
    return 0;
  }
  switch (command) {
    case "version":
      out(VERSION);
      return 0;
    case "run":
      return untilSignal(await run({ services: rest, configFile: values.config, env: process.env }));
    case "start": {
      const num = (name: string, v: string | undefined, dflt: number): number => {
        if (v === undefined) return dflt;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new DcnetError(3, `"${v}" is not a valid number`, { field: name });
        return n;
      };
      const stop = await startEmbedded(
        {
          ...embeddedDefaults,
          nodes: Math.max(1, num("--nodes", values.nodes, embeddedDefaults.nodes)),
          grpcPort: num("--grpc-port", values["grpc-port"], embeddedDefaults.grpcPort),
          httpPort: num("--http-port", values["http-port"], embeddedDefaults.httpPort),
          demo: !values["no-demo"],
          logLevel: (values["log-level"] as typeof embeddedDefaults.logLevel | undefined) ?? embeddedDefaults.logLevel,
        },
        out,
      );
      return untilSignal(stop);
    }
    case "app":
      await appCommand(rest[0], rest.slice(1), {
        marathon: values.marathon,
        json: values.json,
        stdin: async () => {
          const chunks: Buffer[] = [];
          for await (const c of process.stdin) chunks.push(c as Buffer);
          return Buffer.concat(chunks).toString("utf8");
        },
        out,
      });
      return 0;
    case "dns":
      return dnsCommand(rest[0], rest.slice(1), {
        server: values.server,
        addr: values.addr === "127.0.0.1:50051" ? "127.0.0.1:50080" : values.addr,
        json: values.json,
        out,
      });
    case "vips":
      return vipsCommand({ addr: values.addr === "127.0.0.1:50051" ? "127.0.0.1:50090" : values.addr, json: values.json, out });
    case "status":
      await status(values.addr, values.json, out);
      return 0;
    case "health": {
      const s = await health(values.addr, values.service);
      out(s);
      return s === "SERVING" ? 0 : 1;
    }
    default:
      process.stderr.write(`dcnet: unknown command "${command}"\n\n${helpText()}\n`);
      return 2;
  }
}

/** Waits for SIGTERM/SIGINT, then stops (a second signal forces exit). */
function untilSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`dcnet: ${sig}, stopping\n`);
      stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = DcnetError.from(err);
    process.stderr.write(`dcnet: ${e.message}\n`);
    process.exit(e.code === 3 ? 2 : 1);
  },
);

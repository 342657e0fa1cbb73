import * as fs from "node:fs";
import { DcnetError } from "../deps";

/**
 * `dcnet app deploy|list|show|scale|rm` against Marathon's REST API. Marathon
 * errors (422 with details, 409, 404) are printed as Marathon wrote them.
 */
export interface AppCommandOptions {
  marathon: string;
  json: boolean;
  /** Reads stdin (for `deploy -` or no file). */
  stdin: () => Promise<string>;
  out: (line: string) => void;
}

interface MarathonTask {
  id: string;
  state: string;
  host: string;
  ports: number[];
  ipAddresses?: { ipAddress: string }[];
}

async function call(opts: AppCommandOptions, method: string, path: string, body?: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${opts.marathon.replace(/\/$/, "")}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body !== undefined ? { body } : {}),
    });
  } catch (err) {
    throw new DcnetError(14, `cannot reach Marathon at ${opts.marathon}: ${(err as Error).message}`, { field: "--marathon" });
  }
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const details = (json as { details?: { path: string; errors: string[] }[] }).details ?? [];
    const msg = (json as { message?: string }).message ?? text;
    throw new DcnetError(
      res.status === 404 ? 5 : res.status === 409 ? 6 : 3,
      [`Marathon: HTTP ${res.status}: ${msg}`, ...details.map((d) => `  ${d.path}: ${d.errors.join("; ")}`)].join("\n"),
    );
  }
  return json;
}

const appPath = (id: string | undefined): string => {
  if (!id) throw new DcnetError(3, "name an app id (e.g. /demo/hello)", { field: "app" });
  return `/v2/apps/${id.replace(/^\/+/, "")}`;
};

export async function appCommand(sub: string | undefined, args: string[], opts: AppCommandOptions): Promise<void> {
  const print = (v: unknown): void => opts.out(JSON.stringify(v, null, 2));
  switch (sub) {
    case "deploy": {
      const file = args[0];
      const body = !file || file === "-" ? await opts.stdin() : fs.readFileSync(file, "utf8");
      const res = (await call(opts, "POST", "/v2/apps", body)) as { id: string; instances: number };
      return opts.json ? print(res) : opts.out(`deployed ${res.id} (${res.instances} instances)`);
    }
    case "list": {
      const res = (await call(opts, "GET", "/v2/apps")) as {
        apps: { id: string; instances: number; tasksRunning: number; tasksHealthy: number }[];
      };
      if (opts.json) return print(res);
      opts.out(`${"ID".padEnd(30)} ${"INSTANCES".padEnd(10)} ${"RUNNING".padEnd(8)} HEALTHY`);
      for (const a of res.apps)
        opts.out(`${a.id.padEnd(30)} ${String(a.instances).padEnd(10)} ${String(a.tasksRunning).padEnd(8)} ${a.tasksHealthy}`);
      return;
    }
    case "show": {
      const res = (await call(opts, "GET", appPath(args[0]))) as { app: { id: string; instances: number; tasks: MarathonTask[] } };
      if (opts.json) return print(res);
      opts.out(`${res.app.id}: ${res.app.instances} instances`);
      for (const t of res.app.tasks) {
        const ips = (t.ipAddresses ?? []).map((i) => i.ipAddress).join(",");
        opts.out(`  ${t.id.padEnd(56)} ${t.state.padEnd(14)} ${t.host}  ports ${t.ports.join(",")}  ${ips}`);
      }
      return;
    }
    case "scale": {
      const n = Number(args[1]);
      if (!Number.isInteger(n) || n < 0) throw new DcnetError(3, `"${args[1]}" is not a number of instances`, { field: "instances" });
      const res = await call(opts, "PUT", appPath(args[0]), JSON.stringify({ instances: n }));
      return opts.json ? print(res) : opts.out(`scaled ${args[0]} to ${n}`);
    }
    case "rm": {
      const res = await call(opts, "DELETE", appPath(args[0]));
      return opts.json ? print(res) : opts.out(`removed ${args[0]}`);
    }
    default:
      throw new DcnetError(3, `app ${sub ?? ""}: use deploy [FILE|-], list, show ID, scale ID N, rm ID`, { field: "app" });
  }
}

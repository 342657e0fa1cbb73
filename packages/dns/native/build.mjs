// Builds build/udp_batch.node (the batched UDP path of the DNS listener, see udp_batch.c) with the
// system C compiler against the running Node's own headers. Run by `npm run build`; a no-op when the
// module is newer than its source. When it cannot be built (no compiler, no headers, not Linux) it
// says so and exits 0: the listener then uses Node's udp_wrap handle (src/raw-udp.ts). With
// DCNET_REQUIRE_NATIVE=1 (CI) a failed build is an error.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "udp_batch.c");
const out = join(here, "build", "udp_batch.node");
const strict = process.env["DCNET_REQUIRE_NATIVE"] === "1";

function give_up(reason) {
  const text = `dcnet: packages/dns/native/build/udp_batch.node not built (${reason}); DNS listeners will use Node's udp_wrap handle instead`;
  if (strict) {
    console.error(`${text}\nDCNET_REQUIRE_NATIVE=1: failing the build`);
    process.exit(1);
  }
  console.error(text);
  process.exit(0);
}

if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) process.exit(0);
if (process.platform !== "linux") give_up(`recvmmsg/sendmmsg are Linux-only; this is ${process.platform}`);
const candidates = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, "include", "node"),
  join(dirname(dirname(process.execPath)), "include", "node"),
  "/usr/include/node",
  "/usr/local/include/node",
].filter(Boolean);
// uv.h sits beside node_api.h in Node's own headers; Debian's libnode-dev has it in /usr/include (libuv1-dev).
const headers = candidates.find((d) => existsSync(join(d, "node_api.h")));
if (!headers) give_up(`no node_api.h in ${candidates.join(", ")}`);
const cc = process.env.CC || "cc";
mkdirSync(dirname(out), { recursive: true });
const args = ["-O2", "-g", "-fPIC", "-shared", "-Wall", "-Wextra", "-DNODE_GYP_MODULE_NAME=udp_batch", "-I", headers, "-o", out, src];
try {
  execFileSync(cc, args, { stdio: ["ignore", "inherit", "inherit"] });
} catch (err) {
  give_up(`${cc} ${args.join(" ")} failed: ${err.message.split("\n")[0]}`);
}

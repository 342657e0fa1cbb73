/**
 * Benchmark dispatcher: `node bench/dist/main.js [name...]`; no name runs all.
 * Each benchmark writes bench/results/<name>.json and prints its figures.
 */
import { runBus } from "./bus";
import { runDcosDns } from "./dcos-dns";
import { runDnsPropagation } from "./dns-propagation";
import { runL4lbNft } from "./l4lb-nft";
import { runL4lbUserspace } from "./l4lb-userspace";
import { runMesosDns } from "./mesos-dns";
import { runMesosDnsPropagation } from "./mesos-dns-propagation";

const benchmarks: Readonly<Record<string, () => Promise<void>>> = {
  bus: runBus,
  "mesos-dns": runMesosDns,
  "mesos-dns-propagation": runMesosDnsPropagation,
  "dcos-dns": runDcosDns,
  "dns-propagation": runDnsPropagation,
  "l4lb-userspace": runL4lbUserspace,
  "l4lb-nft": runL4lbNft,
};

async function main(args: readonly string[]): Promise<void> {
  const names = args.length > 0 ? args : Object.keys(benchmarks);
  const unknown = names.filter((n) => !Object.hasOwn(benchmarks, n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(", ")}; known: ${Object.keys(benchmarks).join(", ")}\n`);
    process.exitCode = 2;
    return;
  }
  for (const name of names) {
    const run = benchmarks[name];
    if (run) await run();
  }
}

// A closed pipe (`| head`) must not kill the run before it stops its servers.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

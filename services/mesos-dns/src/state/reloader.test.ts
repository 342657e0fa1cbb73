import { strict as assert } from "node:assert";
import { promises as dnsp } from "node:dns";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, createRegistry } from "@dcnet/core";
import { parseMesosDnsConfig } from "../config";
import { Reloader } from "./reloader";

describe("reloader: host names to resolve", () => {
  it('a framework with "pid": null gets the records of its hostname, resolved like an absent pid', async () => {
    let address = "";
    const srv = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          leader: `master@${address}`,
          slaves: [],
          frameworks: [{ name: "null-pid", pid: null, hostname: "localhost", tasks: [] }],
        }),
      );
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    address = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const reloader = new Reloader(parseMesosDnsConfig({ masters: [address] }, { env: {}, warn: () => undefined }), {
      log: createLogger({ service: "test", level: "silent" }),
      registry: createRegistry({ defaultMetrics: false }),
      subscribe: false,
    });
    try {
      await reloader.reload("test");
      const set = reloader.current!.set;
      const ips = (name: string) => [...(set.a.get(name) ?? []), ...(set.aaaa.get(name) ?? [])];
      const localhost = (await dnsp.lookup("localhost", { all: true })).map((a) => a.address);
      assert.ok(localhost.length > 0);
      assert.deepEqual(ips("null-pid.mesos.").sort(), localhost.sort());
    } finally {
      reloader.stop();
      await new Promise((r) => srv.close(r));
    }
  });
});

import { strict as assert } from "node:assert";
import type { ContainerNetworkProvider, TaskLaunch } from "../model/launch";
import { probeBridgeSupport } from "./bridge";
import { run } from "./exec";
import { listNetns } from "./netns";
import { Harness, launchOf } from "./test-harness";

describe("mesos agent: container mode through a ContainerNetworkProvider (root)", function () {
  this.timeout(20_000);
  let h: Harness | undefined;
  const calls: string[] = [];

  /** A stand-in for the overlay agent: gives the namespace an address on its loopback. */
  const provider: ContainerNetworkProvider = {
    async attach(task: TaskLaunch, netnsPath: string) {
      calls.push(`attach ${task.taskId} ${netnsPath}`);
      const ns = netnsPath.split("/").pop()!;
      await run("ip", ["-n", ns, "addr", "add", "9.0.0.7/32", "dev", "lo"]);
      return { ips: ["9.0.0.7"], networkName: "dcos" };
    },
    async detach(task: TaskLaunch) {
      calls.push(`detach ${task.taskId}`);
    },
  };

  before(async function () {
    const missing = await probeBridgeSupport();
    if (missing) {
      console.log(`      (skipping container-mode provider test: ${missing})`);
      this.skip();
    }
    h = await new Harness().start({}, provider);
  });
  after(async () => h?.stop());

  it("creates the task's namespace, lets the provider attach it, reports its IPs, detaches at the end", async () => {
    const cmd = "ip -4 -o addr show dev lo | grep -q 9.0.0.7 && echo in-netns";
    await h!.launch(
      launchOf("vn.1", cmd, { network: { mode: "container", networkName: "dcos", groups: ["g"], labels: { a: "b" }, portMappings: [] } }),
    );
    const done = await h!.waitFor("vn.1", "TASK_FINISHED");
    const info = done.container_status?.network_infos?.[0];
    assert.deepEqual(info?.ip_addresses, [{ protocol: "IPv4", ip_address: "9.0.0.7" }]);
    assert.equal(info?.name, "dcos");
    assert.deepEqual(info?.groups, ["g"]);
    assert.deepEqual(info?.labels, { labels: [{ key: "a", value: "b" }] });
    assert.equal(h!.sandbox("vn.1", "stdout"), "in-netns\n");
    assert.match(calls[0] ?? "", /^attach vn\.1 \/var\/run\/netns\/dcnet-/);
    assert.equal(calls[1], "detach vn.1");
    const ns = calls[0]!.split("/").pop()!;
    assert.ok(!(await listNetns()).includes(ns), "task netns deleted");
  });
});

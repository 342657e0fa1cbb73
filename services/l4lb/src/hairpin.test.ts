import { strict as assert } from "node:assert";
import { localRewrites, rewriteLocal } from "./hairpin";
import { port, task } from "./testutil";

describe("l4lb local port-mapping rewrite (spec §4.3 hairpin)", () => {
  const tasks = [
    task({ id: "mesos", taskIps: ["172.17.0.2"], ports: [port(80, ["web:80"], { hostPort: 31000 })] }),
    task({ id: "docker", runtime: "DOCKER", taskIps: ["172.18.0.2"], ports: [port(80, ["web:80"], { hostPort: 31001 })] }),
    task({ id: "host", taskIps: ["10.0.0.1"], ports: [port(31002, ["web:80"], { hostPort: 31002 })] }),
    task({ id: "gone", state: "terminal", taskIps: ["172.17.0.3"], ports: [port(80, ["web:80"], { hostPort: 31003 })] }),
  ];

  it("maps host ports of this agent's non-Docker bridged tasks to the task address", () => {
    assert.deepEqual([...localRewrites(tasks, "10.0.0.1")], [["tcp 10.0.0.1 31000", { ip: "172.17.0.2", port: 80 }]]);
  });

  it("rewrites only matching backends of the same protocol", () => {
    const rw = localRewrites(tasks, "10.0.0.1");
    const backends = [
      { ip: "10.0.0.1", port: 31000, weight: 1 },
      { ip: "10.0.0.1", port: 31001, weight: 0 },
      { ip: "10.0.0.2", port: 31000, weight: 1 },
    ];
    assert.deepEqual(rewriteLocal("tcp", backends, rw), [
      { ip: "172.17.0.2", port: 80, weight: 1 },
      { ip: "10.0.0.1", port: 31001, weight: 0 },
      { ip: "10.0.0.2", port: 31000, weight: 1 },
    ]);
    assert.deepEqual(rewriteLocal("udp", backends, rw), backends);
  });
});

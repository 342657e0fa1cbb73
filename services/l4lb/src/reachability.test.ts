import { strict as assert } from "node:assert";
import { filterReachable, filterVipsReachable } from "./reachability";

const b = (agentIp: string, ip = agentIp) => ({ ip, port: 80, weight: 1, agentIp });

describe("l4lb reachability (spec §4.5)", () => {
  it("drops backends on unreachable agents", () => {
    assert.deepEqual(filterReachable([b("10.0.0.1"), b("10.0.0.2")], new Set(["10.0.0.2"])), {
      backends: [b("10.0.0.1")],
      dropped: 1,
      failedOpen: false,
    });
  });

  it("fails open when no backend is reachable", () => {
    assert.deepEqual(filterReachable([b("10.0.0.1"), b("10.0.0.2")], new Set(["10.0.0.1", "10.0.0.2"])), {
      backends: [b("10.0.0.1"), b("10.0.0.2")],
      dropped: 0,
      failedOpen: true,
    });
  });

  it("keeps everything when all are reachable, and an empty VIP stays empty", () => {
    assert.deepEqual(filterReachable([b("10.0.0.1")], new Set()).backends, [b("10.0.0.1")]);
    assert.deepEqual(filterReachable([], new Set(["10.0.0.1"])), { backends: [], dropped: 0, failedOpen: false });
  });

  it("summarises a VIP table for metrics", () => {
    const vips = [
      { id: "a", backends: [b("10.0.0.1"), b("10.0.0.2")] },
      { id: "b", backends: [b("10.0.0.2")] },
      { id: "c", backends: [b("10.0.0.3")] },
    ];
    const r = filterVipsReachable(vips, new Set(["10.0.0.2"]));
    assert.deepEqual(
      r.vips.map((v) => [v.id, v.backends.length]),
      [
        ["a", 1],
        ["b", 1],
        ["c", 1],
      ],
    );
    assert.deepEqual(r.summary, { unreachableVips: 2, droppedBackends: 1, failedOpenVips: 1 });
    assert.equal(r.vips[2], vips[2]);
  });
});

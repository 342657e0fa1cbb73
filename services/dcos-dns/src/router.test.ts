import { strict as assert } from "node:assert";
import { parseResolver, type Upstream } from "@dcnet/dns";
import { Router } from "./router";

const up = (s: string): Upstream => parseResolver(s)!;

describe("dcos-dns routing (§3.2)", () => {
  const router = new Router({
    forwardZones: new Map([
      ["corp.example.", [up("10.0.0.1")]],
      ["eu.corp.example.", [up("10.0.0.2:5353")]],
    ]),
    upstreams: [up("8.8.8.8")],
    cryptoId: "abc123",
  });
  const kind = (n: string) => router.route(n);

  const cases: [string, string, string?][] = [
    ["web.marathon.autoip.dcos.thisdcos.directory.", "internal", "web.marathon.autoip.dcos.thisdcos.directory."],
    ["minitwit.marathon.l4lb.thisdcos.directory.", "internal", "minitwit.marathon.l4lb.thisdcos.directory."],
    ["minitwit.marathon.dclb.thisdcos.directory.", "internal", "minitwit.marathon.l4lb.thisdcos.directory."],
    ["minitwit.marathon.dclb.thisdcos.global.", "internal", "minitwit.marathon.l4lb.thisdcos.directory."],
    ["web.marathon.autoip.dcos.thisdcos.global.", "internal", "web.marathon.autoip.dcos.thisdcos.directory."],
    ["web.marathon.autoip.dcos.abc123.dcos.directory.", "internal", "web.marathon.autoip.dcos.thisdcos.directory."],
    ["web.marathon.autoip.dcos.other9.dcos.directory.", "forward"],
    // Renamed zone apexes are answered internally too.
    ["dclb.thisdcos.directory.", "internal", "l4lb.thisdcos.directory."],
    ["dcos.thisdcos.global.", "internal", "dcos.thisdcos.directory."],
    ["dclb.thisdcos.global.", "internal", "l4lb.thisdcos.directory."],
    ["l4lb.abc123.dcos.directory.", "internal", "l4lb.thisdcos.directory."],
    ["abc123.dcos.directory.", "forward"],
    ["thisdcos.global.", "forward"],
    ["web.marathon.mesos.", "mesos"],
    ["mesos.", "mesos"],
    ["leader.mesos.", "mesos"],
    ["ready.spartan.", "internal", "ready.spartan."],
    ["localhost.", "internal", "localhost."],
    ["zk-1.zk.", "internal", "zk-1.zk."],
    ["host.corp.example.", "forward"],
    ["host.eu.corp.example.", "forward"],
    ["example.com.", "forward"],
  ];
  for (const [name, k, internal] of cases) {
    it(`${name} → ${k}${internal ? ` as ${internal}` : ""}`, () => {
      const r = kind(name);
      assert.equal(r.kind, k);
      if (internal && r.kind === "internal") assert.equal(r.name, internal);
    });
  }

  it("picks the forward zone with the longest matching suffix, not the first", () => {
    const r = kind("db.eu.corp.example.");
    assert.ok(r.kind === "forward");
    assert.equal(r.zone, "eu.corp.example.");
    assert.equal(r.upstreams[0]!.label, "10.0.0.2:5353");
    const r2 = kind("db.us.corp.example.");
    assert.ok(r2.kind === "forward");
    assert.equal(r2.zone, "corp.example.");
  });

  it("sends other names to the default upstreams, and has no route without any", () => {
    const r = kind("example.com.");
    assert.ok(r.kind === "forward" && r.zone === "." && r.upstreams[0]!.label === "8.8.8.8:53");
    const none = new Router({ forwardZones: new Map(), upstreams: [], cryptoId: null });
    assert.equal(none.route("example.com.").kind, "none");
    assert.equal(none.route("web.marathon.autoip.dcos.abc123.dcos.directory.").kind, "none", "no crypto id: not internal");
  });

  it("maps renamed names in answers back to the client's suffix", () => {
    const r = kind("minitwit.marathon.dclb.thisdcos.directory.");
    assert.ok(r.kind === "internal" && r.map);
    assert.equal(r.map("l4lb.thisdcos.directory."), "dclb.thisdcos.directory.");
    assert.equal(r.map("x.marathon.l4lb.thisdcos.directory."), "x.marathon.dclb.thisdcos.directory.");
    assert.equal(r.map("ns.spartan."), "ns.spartan.");
    const g = kind("web.marathon.autoip.dcos.thisdcos.global.");
    assert.ok(g.kind === "internal" && g.map);
    assert.equal(g.map("dcos.thisdcos.directory."), "dcos.thisdcos.global.");
    const c = kind("web.marathon.autoip.dcos.abc123.dcos.directory.");
    assert.ok(c.kind === "internal" && c.map);
    assert.equal(c.map("dcos.thisdcos.directory."), "dcos.abc123.dcos.directory.");
    const apex = kind("dcos.thisdcos.global.");
    assert.ok(apex.kind === "internal" && apex.map);
    assert.equal(apex.map("dcos.thisdcos.directory."), "dcos.thisdcos.global.");
  });

  describe("several questions in one message: where they all go, else internal", () => {
    const where = (first: string, ...later: string[]) => {
      const { route, disagreeing } = router.routeQuestions(first, later);
      const label = route.kind === "forward" ? `forward ${route.zone}` : route.kind === "internal" ? `internal ${route.name}` : route.kind;
      return { label, disagreeing: disagreeing.map((r) => (r.kind === "forward" ? `forward ${r.zone}` : r.kind)) };
    };
    it("one question: its route, nothing disagreeing", () => {
      assert.deepEqual(where("a.marathon.mesos."), { label: "mesos", disagreeing: [] });
    });
    it("all the same way: that route (two .mesos; two names of one forward zone; two of the default upstreams)", () => {
      assert.deepEqual(where("a.marathon.mesos.", "b.marathon.mesos."), { label: "mesos", disagreeing: [] });
      assert.deepEqual(where("x.eu.corp.example.", "y.eu.corp.example."), { label: "forward eu.corp.example.", disagreeing: [] });
      assert.deepEqual(where("example.com.", "example.org."), { label: "forward .", disagreeing: [] });
      assert.deepEqual(where("ready.spartan.", "x.marathon.dclb.thisdcos.directory."), {
        label: "internal ready.spartan.",
        disagreeing: [],
      });
    });
    it("disagreeing: answered internally, the routes that were not internal listed", () => {
      assert.deepEqual(where("a.marathon.mesos.", "example.com."), {
        label: "internal a.marathon.mesos.",
        disagreeing: ["mesos", "forward ."],
      });
      assert.deepEqual(where("x.corp.example.", "x.eu.corp.example."), {
        label: "internal x.corp.example.",
        disagreeing: ["forward corp.example.", "forward eu.corp.example."],
      });
      assert.deepEqual(where("ready.spartan.", "a.marathon.mesos."), { label: "internal ready.spartan.", disagreeing: ["mesos"] });
    });
    it("a renamed first question keeps its rename when the message is answered internally", () => {
      const { route } = router.routeQuestions("x.marathon.dclb.thisdcos.directory.", ["a.marathon.mesos."]);
      assert.ok(route.kind === "internal" && route.map);
      assert.equal(route.name, "x.marathon.l4lb.thisdcos.directory.");
    });
  });
});

import * as assert from "node:assert/strict";
import type { MesosDnsConfig, RecordSet } from "../model";
import { RecordBuilder } from "./builder";
import { agentIdSuffix, generateRecords, masterRecords, type GenerateOptions } from "./generator";
import { hashString } from "./hash";
import { UnusableStateError } from "./state";
import { lines, loadFake, testConfig, values } from "./testutil";

const noListener: GenerateOptions = { listenerIps: () => [] };

/** Upstream generator_test.go testRecordGenerator: RFC952, leader overridden, one master. */
function upstream(ipSources: MesosDnsConfig["ipSources"]): RecordSet {
  const state = { ...loadFake(), leader: "master@144.76.157.37:5050" };
  const cfg = testConfig({
    enforceRFC952: true,
    ipSources,
    masters: ["144.76.157.37:5050"],
    listener: "127.0.0.1",
    soaMname: "mesos-dns.mesos.",
  });
  return generateRecords(state, cfg, noListener).records;
}

type Want = [map: "a" | "aaaa" | "srv", name: string, values: string[]];

function check(set: RecordSet, wants: Want[]): void {
  for (const [m, name, want] of wants) {
    assert.deepEqual(values(set[m], name), [...want].sort(), `${m} ${name}`);
  }
}

describe("records/generator", () => {
  describe("masterRecords (upstream TestMasterRecord)", () => {
    type RR = [name: string, host: string, kind: "A" | "AAAA" | "SRV"];
    const srv = (port: string): RR[] => [
      ["_leader._tcp.foo.com.", `leader.foo.com.:${port}`, "SRV"],
      ["_leader._udp.foo.com.", `leader.foo.com.:${port}`, "SRV"],
    ];
    const cases: { masters: string[]; leader: string; expect: RR[] }[] = [
      { masters: [], leader: "", expect: [] },
      { masters: [], leader: "@", expect: [] },
      { masters: [], leader: "1@", expect: [] },
      { masters: [], leader: "@2", expect: [] },
      { masters: [], leader: "3@4", expect: [] },
      {
        masters: [],
        leader: "5@0.0.0.6:7",
        expect: [
          ["leader.foo.com.", "0.0.0.6", "A"],
          ["master.foo.com.", "0.0.0.6", "A"],
          ["master0.foo.com.", "0.0.0.6", "A"],
          ...srv("7"),
        ],
      },
      {
        masters: [],
        leader: "5@[2001:db8::1]:7",
        expect: [
          ["leader.foo.com.", "2001:db8::1", "AAAA"],
          ["master.foo.com.", "2001:db8::1", "AAAA"],
          ["master0.foo.com.", "2001:db8::1", "AAAA"],
          ...srv("7"),
        ],
      },
      {
        // single master: leader and fallback
        masters: ["0.0.0.6:7"],
        leader: "5@0.0.0.6:7",
        expect: [
          ["leader.foo.com.", "0.0.0.6", "A"],
          ["master.foo.com.", "0.0.0.6", "A"],
          ["master0.foo.com.", "0.0.0.6", "A"],
          ...srv("7"),
        ],
      },
      ...[["0.0.0.8:9"], ["0.0.0.8:9", "0.0.0.8:9"], ["0.0.0.8:9", "0.0.0.6:7"], ["0.0.0.8:9", "0.0.0.6:7", "0.0.0.6:7"]].map(
        (masters) => ({
          // leader not in the list / duplicate fallback masters / leader at the end / duplicate leader entries
          masters,
          leader: "5@0.0.0.6:7",
          expect: [
            ["leader.foo.com.", "0.0.0.6", "A"],
            ["master.foo.com.", "0.0.0.6", "A"],
            ["master.foo.com.", "0.0.0.8", "A"],
            ["master0.foo.com.", "0.0.0.8", "A"],
            ["master1.foo.com.", "0.0.0.6", "A"],
            ...srv("7"),
          ] as RR[],
        }),
      ),
      {
        // leader in the middle of the list (§3.4 example)
        masters: ["0.0.0.8:9", "0.0.0.6:7", "0.0.0.7:0"],
        leader: "5@0.0.0.6:7",
        expect: [
          ["leader.foo.com.", "0.0.0.6", "A"],
          ["master.foo.com.", "0.0.0.6", "A"],
          ["master.foo.com.", "0.0.0.8", "A"],
          ["master.foo.com.", "0.0.0.7", "A"],
          ["master0.foo.com.", "0.0.0.8", "A"],
          ["master1.foo.com.", "0.0.0.6", "A"],
          ["master2.foo.com.", "0.0.0.7", "A"],
          ...srv("7"),
        ],
      },
      {
        masters: ["0.0.0.8:9", "0.0.0.6:7", "[2001:db8::1]:0"],
        leader: "5@0.0.0.6:7",
        expect: [
          ["leader.foo.com.", "0.0.0.6", "A"],
          ["master.foo.com.", "0.0.0.6", "A"],
          ["master.foo.com.", "0.0.0.8", "A"],
          ["master.foo.com.", "2001:db8::1", "AAAA"],
          ["master0.foo.com.", "0.0.0.8", "A"],
          ["master1.foo.com.", "0.0.0.6", "A"],
          ["master2.foo.com.", "2001:db8::1", "AAAA"],
          ...srv("7"),
        ],
      },
      {
        // an entry whose IP is already in master. is skipped without using an index; "" entries skipped
        masters: ["", "0.0.0.6:8", "0.0.0.9:1"],
        leader: "5@0.0.0.6:7",
        expect: [
          ["leader.foo.com.", "0.0.0.6", "A"],
          ["master.foo.com.", "0.0.0.6", "A"],
          ["master.foo.com.", "0.0.0.9", "A"],
          ["master0.foo.com.", "0.0.0.9", "A"],
          ["master1.foo.com.", "0.0.0.6", "A"],
          ...srv("7"),
        ],
      },
    ];
    cases.forEach((c, i) => {
      it(`case ${i + 1}: masters ${JSON.stringify(c.masters)}, leader ${JSON.stringify(c.leader)}`, () => {
        const b = new RecordBuilder();
        masterRecords(b, "foo.com", c.masters, c.leader);
        const set = b.build({ frameworks: [] });
        const want = c.expect.map(([n, h, k]) => `${k} ${n} ${h}`).sort();
        assert.deepEqual(lines(set), want);
      });
    });

    it("masters entries that crash upstream (host not an IP) are skipped and reported", () => {
      const b = new RecordBuilder();
      const warnings: string[] = [];
      masterRecords(b, "mesos", ["master-1.example.com:5050", "1.2.3.5:5050", "nope"], "m@1.2.3.4:5050", (w) => warnings.push(w));
      const set = b.build({ frameworks: [] });
      assert.deepEqual(values(set.a, "master.mesos."), ["1.2.3.4", "1.2.3.5"]);
      assert.deepEqual(values(set.a, "master0.mesos."), ["1.2.3.5"]);
      assert.deepEqual(values(set.a, "master1.mesos."), ["1.2.3.4"]);
      assert.equal(warnings.length, 2);
      assert.match(warnings[0]!, /master-1\.example\.com:5050.*not an IP/);
      assert.match(warnings[1]!, /"nope".*missing port/);
    });

    it("a leader host that is not an IP (upstream crashes): no leader/master records, reported", () => {
      const { records, warnings } = generateRecords(
        { leader: "master@mesos-master:5050" },
        testConfig({ masters: ["1.2.3.4:5050"] }),
        noListener,
      );
      assert.equal(records.a.size, 0);
      assert.equal(records.srv.size, 0);
      assert.ok(warnings.some((w) => /leader .*not an IP/.test(w)));
    });

    it("opts.masters (the ZK list of this reload) overrides cfg.masters", () => {
      const { records } = generateRecords({ leader: "m@10.0.0.2:5050" }, testConfig({ masters: ["10.0.0.9:5050"] }), {
        ...noListener,
        masters: ["10.0.0.2:5050", "10.0.0.3:5050"],
      });
      assert.deepEqual(values(records.a, "master.mesos."), ["10.0.0.2", "10.0.0.3"]);
      assert.deepEqual(values(records.a, "master0.mesos."), ["10.0.0.2"]);
      assert.deepEqual(values(records.a, "master1.mesos."), ["10.0.0.3"]);
    });
  });

  describe("name-server record (upstream TestParseState_SOAMname)", () => {
    const ns = (cfg: Partial<MesosDnsConfig>, opts: GenerateOptions = noListener): { set: RecordSet; warnings: string[] } => {
      const { records, warnings } = generateRecords({ leader: "foo@0.1.2.3:45" }, testConfig(cfg), opts);
      return { set: records, warnings };
    };
    it("IPv4 listener → A", () =>
      assert.deepEqual(values(ns({ soaMname: "jdef123.mesos.", listener: "4.5.6.7" }).set.a, "jdef123.mesos."), ["4.5.6.7"]));
    it("IPv6 listener → AAAA", () =>
      assert.deepEqual(values(ns({ soaMname: "ack456.mesos.", listener: "2001:db8::1" }).set.aaaa, "ack456.mesos."), ["2001:db8::1"]));
    it("127.0.0.1 → A 127.0.0.1", () => assert.deepEqual(values(ns({ listener: "127.0.0.1" }).set.a, "ns1.mesos."), ["127.0.0.1"]));
    it("0.0.0.0 → every non-loopback address of the host", () => {
      const { set } = ns({ listener: "0.0.0.0" }, { listenerIps: () => ["10.0.0.5", "127.0.0.1", "::1", "fd00::5", "bogus"] });
      assert.deepEqual(values(set.a, "ns1.mesos."), ["10.0.0.5"]);
      assert.deepEqual(values(set.aaaa, "ns1.mesos."), ["fd00::5"]);
    });
    it("default listenerIps come from os.networkInterfaces() (no loopback)", () => {
      const { records } = generateRecords({ leader: "foo@0.1.2.3:45" }, testConfig({ listener: "0.0.0.0" }));
      for (const v of [...values(records.a, "ns1.mesos."), ...values(records.aaaa, "ns1.mesos.")])
        assert.ok(v !== "127.0.0.1" && v !== "::1");
    });
    it("a listener that is not an IP (upstream crashes): no record, reported", () => {
      const { set, warnings } = ns({ listener: "dns.example.com" });
      assert.equal(set.a.get("ns1.mesos."), undefined);
      assert.ok(warnings.some((w) => /listener "dns\.example\.com" is not an IP/.test(w)));
    });
    it("SOAMname is lower-cased and made absolute", () =>
      assert.deepEqual(values(ns({ soaMname: "NS1.Mesos", listener: "4.5.6.7" }).set.a, "ns1.mesos."), ["4.5.6.7"]));
  });

  describe("fake.json, upstream test setup (TestInsertState: RFC952, leader 144.76.157.37)", () => {
    const rg = upstream(["netinfo", "docker", "mesos", "host"]);
    const rgDocker = upstream(["docker", "host"]);
    const rgMesos = upstream(["mesos", "host"]);
    const rgSlave = upstream(["host"]);
    const rgNetinfo = upstream(["netinfo"]);

    it("netinfo, docker, mesos, host", () =>
      check(rg, [
        ["a", "big-dog.marathon.mesos.", ["10.3.0.1"]],
        ["a", "liquor-store.marathon.mesos.", ["10.3.0.1", "10.3.0.2"]],
        ["a", "liquor-store.marathon.slave.mesos.", ["1.2.3.11", "1.2.3.12"]],
        ["a", "car-store.marathon.slave.mesos.", ["1.2.3.11"]],
        ["a", "nginx.marathon.mesos.", ["10.3.0.3"]],
        ["a", "poseidon.marathon.mesos.", []],
        ["a", "poseidon.marathon.slave.mesos.", []],
        ["a", "master.mesos.", ["144.76.157.37"]],
        ["a", "master0.mesos.", ["144.76.157.37"]],
        ["a", "leader.mesos.", ["144.76.157.37"]],
        ["a", "slave.mesos.", ["1.2.3.10", "1.2.3.11", "1.2.3.12"]],
        ["a", "some-box.chronoswithaspaceandmixe.mesos.", ["1.2.3.11"]],
        ["a", "marathon.mesos.", ["1.2.3.11"]],
        ["a", "mesos-dns.mesos.", ["127.0.0.1"]],
        ["aaaa", "toy-store.ipv6-framework.mesos.", ["fd01:b::1:8000:2"]],
        ["aaaa", "toy-store.ipv6-framework.slave.mesos.", ["2001:db8::1"]],
        ["aaaa", "ipv6-framework.mesos.", ["2001:db8::1"]],
        ["aaaa", "slave.mesos.", ["2001:db8::1"]],
        ["srv", "_big-dog._tcp.marathon.mesos.", ["big-dog-4dfjd-0.marathon.mesos.:80", "big-dog-4dfjd-0.marathon.mesos.:443"]],
        ["srv", "_poseidon._tcp.marathon.mesos.", []],
        ["srv", "_leader._tcp.mesos.", ["leader.mesos.:5050"]],
        [
          "srv",
          "_liquor-store._tcp.marathon.mesos.",
          [
            "liquor-store-4dfjd-0.marathon.mesos.:80",
            "liquor-store-4dfjd-0.marathon.mesos.:443",
            "liquor-store-zasmd-1.marathon.mesos.:80",
            "liquor-store-zasmd-1.marathon.mesos.:443",
          ],
        ],
        ["srv", "_liquor-store._udp.marathon.mesos.", []],
        ["srv", "_liquor-store.marathon.mesos.", []],
        [
          "srv",
          "_https._liquor-store._tcp.marathon.mesos.",
          ["liquor-store-4dfjd-0.marathon.mesos.:443", "liquor-store-zasmd-1.marathon.mesos.:443"],
        ],
        [
          "srv",
          "_http._liquor-store._tcp.marathon.mesos.",
          ["liquor-store-4dfjd-0.marathon.mesos.:80", "liquor-store-zasmd-1.marathon.mesos.:80"],
        ],
        [
          "srv",
          "_car-store._tcp.marathon.mesos.",
          ["car-store-zinaz-0.marathon.slave.mesos.:31364", "car-store-zinaz-0.marathon.slave.mesos.:31365"],
        ],
        [
          "srv",
          "_car-store._udp.marathon.mesos.",
          ["car-store-zinaz-0.marathon.slave.mesos.:31364", "car-store-zinaz-0.marathon.slave.mesos.:31365"],
        ],
        ["srv", "_slave._tcp.mesos.", ["slave.mesos.:5051"]],
        ["srv", "_framework._tcp.marathon.mesos.", ["marathon.mesos.:25501"]],
      ]));

    it("host", () =>
      check(rgSlave, [
        ["a", "liquor-store.marathon.mesos.", ["1.2.3.11", "1.2.3.12"]],
        ["a", "liquor-store.marathon.slave.mesos.", ["1.2.3.11", "1.2.3.12"]],
        ["a", "nginx.marathon.mesos.", ["1.2.3.11"]],
        ["a", "car-store.marathon.slave.mesos.", ["1.2.3.11"]],
        ["aaaa", "toy-store.ipv6-framework.mesos.", ["2001:db8::1"]],
        ["aaaa", "toy-store.ipv6-framework.slave.mesos.", ["2001:db8::1"]],
      ]));

    it("mesos, host", () =>
      check(rgMesos, [
        ["a", "liquor-store.marathon.mesos.", ["1.2.3.11", "1.2.3.12"]],
        ["a", "liquor-store.marathon.slave.mesos.", ["1.2.3.11", "1.2.3.12"]],
        ["a", "nginx.marathon.mesos.", ["10.3.0.3"]],
        ["a", "car-store.marathon.slave.mesos.", ["1.2.3.11"]],
        ["aaaa", "toy-store.ipv6-framework.mesos.", ["2001:db8::1"]],
        ["aaaa", "toy-store.ipv6-framework.slave.mesos.", ["2001:db8::1"]],
      ]));

    it("netinfo (all IPs of the latest running status, §2; a task without network_infos has no task-IP names)", () =>
      check(rgNetinfo, [
        ["a", "toy-store.ipv6-framework.mesos.", ["12.0.1.3", "12.0.1.2"]],
        ["aaaa", "toy-store.ipv6-framework.mesos.", ["fd01:b::1:8000:2"]],
        ["aaaa", "toy-store.ipv6-framework.slave.mesos.", ["2001:db8::1"]],
        ["a", "car-store.marathon.mesos.", []],
        ["a", "car-store-zinaz-0.marathon.mesos.", []],
        ["a", "car-store.marathon.slave.mesos.", ["1.2.3.11"]],
        ["a", "car-store-zinaz-0.marathon.slave.mesos.", ["1.2.3.11"]],
      ]));

    it("docker, host", () =>
      check(rgDocker, [
        ["a", "liquor-store.marathon.mesos.", ["10.3.0.1", "10.3.0.2"]],
        ["a", "liquor-store.marathon.slave.mesos.", ["1.2.3.11", "1.2.3.12"]],
        ["a", "nginx.marathon.mesos.", ["1.2.3.11"]],
        ["a", "car-store.marathon.slave.mesos.", ["1.2.3.11"]],
        ["aaaa", "toy-store.ipv6-framework.mesos.", ["2001:db8::1"]],
        ["aaaa", "toy-store.ipv6-framework.slave.mesos.", ["2001:db8::1"]],
        ["a", "toy-store.ipv6-framework.mesos.", []],
      ]));
  });

  describe("fake.json, default config (RFC1123; netinfo, mesos, host; leader 1.2.3.4 from the file)", () => {
    const { records, warnings } = generateRecords(loadFake(), testConfig(), { listenerIps: () => ["10.0.0.5"] });

    it("frameworks (§3.2), agents (§3.3), leader/master (§3.4), name server", () =>
      check(records, [
        ["a", "marathon.mesos.", ["1.2.3.11"]],
        ["srv", "_framework._tcp.marathon.mesos.", ["marathon.mesos.:25501"]],
        ["aaaa", "ipv6-framework.mesos.", ["2001:db8::1"]],
        ["srv", "_framework._tcp.ipv6-framework.mesos.", ["ipv6-framework.mesos.:25501"]],
        ["a", "chronoswithaspaceandmixedcase-2.0.1.mesos.", ["1.2.3.12"]],
        ["srv", "_framework._tcp.chronoswithaspaceandmixedcase-2.0.1.mesos.", ["chronoswithaspaceandmixedcase-2.0.1.mesos.:25501"]],
        ["a", "slave.mesos.", ["1.2.3.10", "1.2.3.11", "1.2.3.12"]],
        ["aaaa", "slave.mesos.", ["2001:db8::1"]],
        ["srv", "_slave._tcp.mesos.", ["slave.mesos.:5051"]],
        ["a", "leader.mesos.", ["1.2.3.4"]],
        ["a", "master.mesos.", ["1.2.3.4"]],
        ["a", "master0.mesos.", ["1.2.3.4"]],
        ["srv", "_leader._tcp.mesos.", ["leader.mesos.:5050"]],
        ["srv", "_leader._udp.mesos.", ["leader.mesos.:5050"]],
        ["a", "ns1.mesos.", ["10.0.0.5"]],
      ]));

    it("the 'no pid' framework: hostname localhost does not resolve by default → no record, reported", () => {
      assert.equal(records.a.get("nopid.mesos."), undefined);
      assert.deepEqual(warnings, ['framework "no pid": host "localhost" has no address; no framework records']);
    });

    it("the 'no pid' framework with a resolver: A/AAAA from the hostname, no SRV (no port)", () => {
      const r = generateRecords(loadFake(), testConfig(), {
        ...noListener,
        resolveHost: (h) => (h === "localhost" ? ["127.0.0.1", "::1"] : []),
      });
      assert.deepEqual(values(r.records.a, "nopid.mesos."), ["127.0.0.1"]);
      assert.deepEqual(values(r.records.aaaa, "nopid.mesos."), ["::1"]);
      assert.equal(r.records.srv.get("_framework._tcp.nopid.mesos."), undefined);
      assert.deepEqual(r.warnings, []);
    });

    it("task records without discovery info (§3.5 example: car-store)", () =>
      check(records, [
        ["a", "car-store.marathon.mesos.", ["1.2.3.11"]],
        ["a", "car-store-zinaz-0.marathon.mesos.", ["1.2.3.11"]],
        ["a", "car-store.marathon.slave.mesos.", ["1.2.3.11"]],
        ["a", "car-store-zinaz-0.marathon.slave.mesos.", ["1.2.3.11"]],
        ...([
          "_car-store._tcp.marathon.mesos.",
          "_car-store._udp.marathon.mesos.",
          "_car-store._tcp.marathon.slave.mesos.",
          "_car-store._udp.marathon.slave.mesos.",
        ].map((n): Want => [
          "srv",
          n,
          ["car-store-zinaz-0.marathon.slave.mesos.:31364", "car-store-zinaz-0.marathon.slave.mesos.:31365"],
        ]) as Want[]),
      ]));

    it("task IPs per IP source: docker labels are not a default source → agent IP; mesos label; netinfo", () =>
      check(records, [
        ["a", "liquor-store.marathon.mesos.", ["1.2.3.11", "1.2.3.12"]],
        ["a", "nginx.marathon.mesos.", ["10.3.0.3"]],
        ["a", "nginx.marathon.slave.mesos.", ["1.2.3.11"]],
        ["a", "toy-store.ipv6-framework.mesos.", ["12.0.1.3", "12.0.1.2"]],
        ["aaaa", "toy-store.ipv6-framework.mesos.", ["fd01:b::1:8000:2"]],
        ["a", "toy-store-go588-3.ipv6-framework.mesos.", ["12.0.1.3", "12.0.1.2"]],
        ["aaaa", "toy-store-go588-3.ipv6-framework.slave.mesos.", ["2001:db8::1"]],
        ["a", "toy-store.ipv6-framework.slave.mesos.", []],
      ]));

    it("discovery info: generated twice, legacy unsanitised name first (issue #400), then sanitised", () =>
      check(records, [
        // legacy: raw "liquor.store" (its dot makes a sub-domain)
        ["a", "liquor.store.marathon.mesos.", ["1.2.3.11", "1.2.3.12"]],
        ["a", "liquor.store-4dfjd-0.marathon.mesos.", ["1.2.3.11"]],
        ["a", "liquor.store.marathon.slave.mesos.", ["1.2.3.11", "1.2.3.12"]],
        [
          "srv",
          "_liquor.store._tcp.marathon.mesos.",
          [
            "liquor.store-4dfjd-0.marathon.mesos.:80",
            "liquor.store-4dfjd-0.marathon.mesos.:443",
            "liquor.store-zasmd-1.marathon.mesos.:80",
            "liquor.store-zasmd-1.marathon.mesos.:443",
          ],
        ],
        [
          "srv",
          "_http._liquor.store._tcp.marathon.mesos.",
          ["liquor.store-4dfjd-0.marathon.mesos.:80", "liquor.store-zasmd-1.marathon.mesos.:80"],
        ],
        // sanitised
        ["a", "liquor-store-4dfjd-0.marathon.mesos.", ["1.2.3.11"]],
        ["a", "liquor-store-zasmd-1.marathon.mesos.", ["1.2.3.12"]],
        ["a", "liquor-store-zasmd-1.marathon.slave.mesos.", ["1.2.3.12"]],
        ["a", "big-dog.marathon.mesos.", ["1.2.3.11"]],
        ["a", "big.dog.marathon.mesos.", ["1.2.3.11"]],
        // discovery ports → C.F (task IP); only the discovery protocol; named ports
        ["srv", "_big-dog._tcp.marathon.mesos.", ["big-dog-4dfjd-0.marathon.mesos.:80", "big-dog-4dfjd-0.marathon.mesos.:443"]],
        ["srv", "_big-dog._udp.marathon.mesos.", []],
        ["srv", "_http._big-dog._tcp.marathon.mesos.", ["big-dog-4dfjd-0.marathon.mesos.:80"]],
        ["srv", "_https._big-dog._tcp.marathon.mesos.", ["big-dog-4dfjd-0.marathon.mesos.:443"]],
        // resource ports → C.F.slave, and only under .slave when there is discovery info
        [
          "srv",
          "_big-dog._tcp.marathon.slave.mesos.",
          ["big-dog-4dfjd-0.marathon.slave.mesos.:31354", "big-dog-4dfjd-0.marathon.slave.mesos.:31355"],
        ],
        [
          "srv",
          "_big-dog._udp.marathon.slave.mesos.",
          ["big-dog-4dfjd-0.marathon.slave.mesos.:31354", "big-dog-4dfjd-0.marathon.slave.mesos.:31355"],
        ],
        [
          "srv",
          "_liquor-store._tcp.marathon.slave.mesos.",
          [
            "liquor-store-4dfjd-0.marathon.slave.mesos.:31354",
            "liquor-store-4dfjd-0.marathon.slave.mesos.:31355",
            "liquor-store-zasmd-1.marathon.slave.mesos.:31737",
            "liquor-store-zasmd-1.marathon.slave.mesos.:31738",
          ],
        ],
        // the task name of a task with discovery info is not used
        ["a", "big-dog2.marathon.mesos.", []],
        ["a", "non-human-readable-liquor-store.marathon.mesos.", []],
      ]));

    it("non-running tasks (poseidon, TASK_KILLED) have no records", () => {
      for (const [n] of [...records.a, ...records.srv]) assert.ok(!n.includes("poseidon"), n);
    });

    it("every name is absolute and lower-case (the legacy names of fake.json happen to be lower-case)", () => {
      for (const m of [records.a, records.aaaa, records.srv]) {
        for (const [n, vs] of m) {
          assert.ok(n.endsWith(".") && n === n.toLowerCase(), n);
          assert.ok(vs.length > 0 && new Set(vs).size === vs.length, n);
        }
      }
    });

    it("the complete record set (golden, §3; value order ignored)", () => {
      assert.deepEqual(lines(records), GOLDEN_DEFAULT);
    });

    it("enumeration: every framework in state order (also without tasks), qualifying tasks, records they added first", () => {
      const e = records.enumeration;
      assert.deepEqual(
        e.frameworks.map((f) => [f.name, f.tasks.map((t) => t.name)]),
        [
          ["ipv6-framework", ["toy-store"]],
          ["chronos with a space AND MIXED CASE-2.0.1", ["some-box"]],
          ["no pid", []],
          ["marathon", ["liquor.store", "big.dog2", "non-human-readable-liquor-store", "car.store", "chronos", "nginx", "reviewbot"]],
        ],
      );
      const car = e.frameworks[3]!.tasks.find((t) => t.name === "car.store")!;
      assert.equal(car.id, "car-store.43758382-562f-11e4-a088-c20493233aa5");
      const slaveTarget = "car-store-zinaz-0.marathon.slave.mesos.";
      assert.deepEqual(car.records, [
        { name: "car-store.marathon.mesos.", host: "1.2.3.11", rtype: "A" },
        { name: "car-store-zinaz-0.marathon.mesos.", host: "1.2.3.11", rtype: "A" },
        { name: "car-store.marathon.slave.mesos.", host: "1.2.3.11", rtype: "A" },
        { name: "car-store-zinaz-0.marathon.slave.mesos.", host: "1.2.3.11", rtype: "A" },
        ...[31364, 31365].flatMap((p) =>
          [
            "_car-store._tcp.marathon.slave.mesos.",
            "_car-store._udp.marathon.slave.mesos.",
            "_car-store._tcp.marathon.mesos.",
            "_car-store._udp.marathon.mesos.",
          ].map((name) => ({
            name,
            host: `${slaveTarget}:${p}`,
            rtype: "SRV" as const,
          })),
        ),
      ]);
      const toy = e.frameworks[0]!.tasks[0]!;
      assert.ok(
        toy.records.some((r) => r.rtype === "AAAA" && r.name === "toy-store.ipv6-framework.mesos." && r.host === "fd01:b::1:8000:2"),
      );
      // every enumerated record exists in the maps, and every task record appears exactly once overall
      const seen = new Set<string>();
      for (const f of e.frameworks) {
        for (const t of f.tasks) {
          for (const r of t.records) {
            const m = r.rtype === "A" ? records.a : r.rtype === "AAAA" ? records.aaaa : records.srv;
            assert.ok(m.get(r.name)?.includes(r.host), `${r.rtype} ${r.name} ${r.host}`);
            const k = `${r.rtype} ${r.name} ${r.host}`;
            assert.ok(!seen.has(k), `listed twice: ${k}`);
            seen.add(k);
          }
        }
      }
    });
  });

  describe("synthetic states", () => {
    const base = (tasks: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      leader: "master@10.0.0.1:5050",
      slaves: [
        { id: "S-A-S0", pid: "slave(1)@10.0.1.1:5051" },
        { id: "S-B-S1", pid: "slave(1)@10.0.1.2:5052" },
      ],
      frameworks: [{ name: "marathon", pid: "scheduler(1)@10.0.0.9:8080", tasks }],
      ...extra,
    });
    const running = (id: string, name: string, slave: string, more: Record<string, unknown> = {}): Record<string, unknown> => ({
      id,
      name,
      slave_id: slave,
      state: "TASK_RUNNING",
      statuses: [{ state: "TASK_RUNNING", timestamp: 1 }],
      ...more,
    });

    it("throws a named Error when the state is unusable", () => {
      for (const [bad, re] of [
        [null, /expected a JSON object, got null/],
        ["{}", /expected a JSON object, got string/],
        [{}, /no leader/],
        [{ leader: "" }, /no leader/],
        [{ leader: 1 }, /leader: expected string/],
      ] as [unknown, RegExp][]) {
        assert.throws(
          () => generateRecords(bad, testConfig()),
          (e: unknown) => e instanceof UnusableStateError && re.test(e.message),
        );
      }
      assert.throws(() => generateRecords({ leader: "m@1.2.3.4:5" }, testConfig({ domain: "" })), /domain is empty/);
    });

    it("agent-id suffix: last '-' field, lower-cased", () => {
      assert.equal(agentIdSuffix("20140803-125133-3041283216-5050-2410-0"), "0");
      assert.equal(agentIdSuffix("a2b4c6-1234-S3"), "s3");
      assert.equal(agentIdSuffix("noDash"), "nodash");
      assert.equal(agentIdSuffix(""), "");
    });

    it("same task name on two agents: values merge; the enumeration lists a pair only for the task that added it first", () => {
      const { records } = generateRecords(
        base([running("web.1", "web", "S-A-S0"), running("web.2", "web", "S-A-S0"), running("web.3", "web", "S-B-S1")]),
        testConfig(),
        noListener,
      );
      assert.deepEqual(values(records.a, "web.marathon.mesos."), ["10.0.1.1", "10.0.1.2"]);
      const tasks = records.enumeration.frameworks[0]!.tasks;
      const h2 = hashString("web.2");
      assert.deepEqual(tasks[1]!.records, [
        { name: `web-${h2}-s0.marathon.mesos.`, host: "10.0.1.1", rtype: "A" },
        { name: `web-${h2}-s0.marathon.slave.mesos.`, host: "10.0.1.1", rtype: "A" },
      ]);
      assert.ok(tasks[2]!.records.some((r) => r.name === "web.marathon.mesos." && r.host === "10.0.1.2"));
    });

    it("two frameworks with the same name merge; tasks that are not running or on unknown agents are skipped", () => {
      const st = base([
        running("a.1", "a", "S-A-S0"),
        running("b.1", "b", "S-unknown-9"),
        { ...running("c.1", "c", "S-A-S0"), state: "TASK_STAGING" },
      ]);
      (st["frameworks"] as unknown[]).push({ name: "Marathon", pid: "scheduler(1)@10.0.0.8:8080", tasks: [running("a.2", "a", "S-B-S1")] });
      const { records } = generateRecords(st, testConfig(), noListener);
      assert.deepEqual(values(records.a, "marathon.mesos."), ["10.0.0.8", "10.0.0.9"]);
      assert.deepEqual(values(records.a, "a.marathon.mesos."), ["10.0.1.1", "10.0.1.2"]);
      assert.equal(records.a.get("b.marathon.mesos."), undefined);
      assert.equal(records.a.get("c.marathon.mesos."), undefined);
      assert.deepEqual(
        records.enumeration.frameworks.map((f) => f.tasks.map((t) => t.id)),
        [["a.1"], ["a.2"]],
      );
    });

    it("discovery ports: empty protocol → tcp and udp; sanitised protocol and port names; unnamed port", () => {
      const t = running("svc.1", "svc-task", "S-A-S0", {
        resources: { ports: "[31000-31000]" },
        discovery: {
          name: "Svc",
          ports: {
            ports: [
              { number: 9000, protocol: "", name: "Admin Port" },
              { number: 9001, protocol: "UDP" },
            ],
          },
        },
      });
      const { records } = generateRecords(base([t]), testConfig(), noListener);
      const h = hashString("svc.1");
      const c = `svc-${h}-s0.marathon.mesos.`;
      check(records, [
        ["srv", "_svc._tcp.marathon.mesos.", [`${c}:9000`]],
        ["srv", "_svc._udp.marathon.mesos.", [`${c}:9000`, `${c}:9001`]],
        ["srv", "_adminport._svc._tcp.marathon.mesos.", [`${c}:9000`]],
        ["srv", "_adminport._svc._udp.marathon.mesos.", [`${c}:9000`]],
        ["srv", "_svc._tcp.marathon.slave.mesos.", [`svc-${h}-s0.marathon.slave.mesos.:31000`]],
        // legacy pass: raw "Svc" (upper case kept — documented; can never match a lower-cased query)
        ["srv", "_Svc._udp.marathon.mesos.", [`Svc-${h}-s0.marathon.mesos.:9000`, `Svc-${h}-s0.marathon.mesos.:9001`]],
        ["a", "Svc.marathon.mesos.", ["10.0.1.1"]],
        ["a", "svc.marathon.mesos.", ["10.0.1.1"]],
        ["a", "svc-task.marathon.mesos.", []],
      ]);
    });

    it("inputs that crash upstream are skipped and reported (§3.9)", () => {
      const st = base([running("p.1", "p", "S-A-S0", { resources: { ports: "[31000-31001, 31005, 31007-31007]" } })]);
      const { records, warnings } = generateRecords(st, testConfig({ masters: ["mesos-master-1:5050"], listener: "eth0" }), noListener);
      assert.deepEqual(
        values(records.srv, "_p._tcp.marathon.mesos.").map((v) => v.split(":")[1]),
        ["31000", "31001", "31007"],
      );
      for (const re of [
        /masters entry "mesos-master-1:5050": host is not an IP/,
        /listener "eth0" is not an IP/,
        /task "p\.1": ports .* item "31005" has no '-'/,
      ]) {
        assert.ok(
          warnings.some((w) => re.test(w)),
          `${re.source} in ${JSON.stringify(warnings)}`,
        );
      }
    });

    it("unresolvable or invalid PIDs (upstream: the reload fails): that agent/framework only, reported", () => {
      const st = base(
        [
          running("t.1", "t", "S-C-S2", {
            statuses: [{ state: "TASK_RUNNING", container_status: { network_infos: [{ ip_address: "172.17.0.2" }] } }],
          }),
        ],
        {
          slaves: [
            { id: "S-C-S2", pid: "slave(1)@agent-c.internal:5051" },
            { id: "S-D-S3", pid: "broken" },
            { id: "S-E-S4", pid: "slave(1)@agent-e.internal:5051" },
          ],
        },
      );
      (st["frameworks"] as unknown[]).push({ name: "bad", pid: "x@y@z", tasks: [] });
      const { records, warnings } = generateRecords(st, testConfig(), {
        ...noListener,
        resolveHost: (h) => (h === "agent-e.internal" ? ["10.9.9.9", "junk"] : []),
      });
      // the task on the unresolvable agent keeps its task-IP names; no .slave names (no non-IP A values, #509)
      assert.deepEqual(values(records.a, "t.marathon.mesos."), ["172.17.0.2"]);
      assert.equal(records.a.get("t.marathon.slave.mesos."), undefined);
      assert.deepEqual(values(records.a, "slave.mesos."), ["10.9.9.9"]);
      assert.equal(records.a.get("bad.mesos."), undefined);
      for (const re of [
        /agent "S-C-S2": host "agent-c\.internal" has no address/,
        /agent "S-D-S3": invalid pid/,
        /framework "bad": invalid pid/,
      ]) {
        assert.ok(
          warnings.some((w) => re.test(w)),
          `${re.source} in ${JSON.stringify(warnings)}`,
        );
      }
      for (const m of [records.a, records.aaaa]) for (const vs of m.values()) for (const v of vs) assert.match(v, /^[0-9a-f.:]+$/);
    });

    it("degenerate names: empty framework/task labels, legacy names with empty labels", () => {
      const st = base([
        running("x.1", "$$$", "S-A-S0", { resources: { ports: "[1-1]" } }),
        running("y.1", "y", "S-A-S0", { discovery: { name: "a..b" } }),
      ]);
      (st["frameworks"] as unknown[]).push({ name: "...", pid: "scheduler(1)@10.0.0.7:1", tasks: [running("z.1", "z", "S-A-S0")] });
      const { records, warnings } = generateRecords(st, testConfig(), noListener);
      const names = [...records.a.keys(), ...records.srv.keys()];
      for (const n of names) assert.ok(!n.startsWith(".") && !n.includes(".."), n);
      assert.ok(
        names.some((n) => /^-[a-z0-9]{5}-s0\.marathon\.mesos\.$/.test(n)),
        "canonical name of the task named $$$",
      );
      assert.ok(!names.includes("y.marathon.mesos.") && names.includes("a--b.marathon.mesos."), "discovery name a..b → a--b");
      assert.deepEqual(
        records.enumeration.frameworks.map((f) => [f.name, f.tasks.length]),
        [
          ["marathon", 2],
          ["...", 1],
        ],
      );
      for (const re of [
        /name "\$\$\$" sanitises to an empty label/,
        /legacy discovery name "a\.\.b"/,
        /framework "\.\.\.": name sanitises to an empty label/,
      ]) {
        assert.ok(
          warnings.some((w) => re.test(w)),
          `${re.source} in ${JSON.stringify(warnings)}`,
        );
      }
    });

    it("10,000 tasks generate in well under a second (bound 2 s)", () => {
      const slaves = Array.from({ length: 500 }, (_, i) => ({ id: `agent-${i}-S${i}`, pid: `slave(1)@10.${i >> 8}.${i & 255}.1:5051` }));
      const tasks = Array.from({ length: 10000 }, (_, i) => ({
        id: `app-${i % 700}.${i.toString(16)}-uuid`,
        name: `app-${i % 700}`,
        slave_id: `agent-${i % 500}-S${i % 500}`,
        state: "TASK_RUNNING",
        statuses: [
          { state: "TASK_STAGING", timestamp: 1 },
          {
            state: "TASK_RUNNING",
            timestamp: 2,
            container_status: {
              network_infos: [{ ip_addresses: [{ ip_address: `172.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }] }],
            },
          },
        ],
        resources: { ports: `[${20000 + (i % 1000)}-${20001 + (i % 1000)}]` },
        ...(i % 3 === 0 ? { discovery: { name: `svc.${i % 50}`, ports: { ports: [{ number: 80, protocol: "tcp", name: "http" }] } } } : {}),
      }));
      const st = { leader: "master@10.0.0.1:5050", slaves, frameworks: [{ name: "marathon", pid: "scheduler(1)@10.0.0.2:1", tasks }] };
      const t0 = process.hrtime.bigint();
      const { records, warnings } = generateRecords(st, testConfig(), noListener);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.deepEqual(warnings, []);
      assert.equal(records.enumeration.frameworks[0]!.tasks.length, 10000);
      assert.ok(records.a.size > 20000);
      assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
    });
  });
});

/** fake.json, default config, listener IP 10.0.0.5 — reviewed by hand against §3 (see README). */
const GOLDEN_DEFAULT: string[] = [
  "A big-dog-4dfjd-0.marathon.mesos. 1.2.3.11",
  "A big-dog-4dfjd-0.marathon.slave.mesos. 1.2.3.11",
  "A big-dog.marathon.mesos. 1.2.3.11",
  "A big-dog.marathon.slave.mesos. 1.2.3.11",
  "A big.dog-4dfjd-0.marathon.mesos. 1.2.3.11",
  "A big.dog-4dfjd-0.marathon.slave.mesos. 1.2.3.11",
  "A big.dog.marathon.mesos. 1.2.3.11",
  "A big.dog.marathon.slave.mesos. 1.2.3.11",
  "A car-store-zinaz-0.marathon.mesos. 1.2.3.11",
  "A car-store-zinaz-0.marathon.slave.mesos. 1.2.3.11",
  "A car-store.marathon.mesos. 1.2.3.11",
  "A car-store.marathon.slave.mesos. 1.2.3.11",
  "A chronos-rx8q6-0.marathon.mesos. 1.2.3.11",
  "A chronos-rx8q6-0.marathon.slave.mesos. 1.2.3.11",
  "A chronos.marathon.mesos. 1.2.3.11",
  "A chronos.marathon.slave.mesos. 1.2.3.11",
  "A chronoswithaspaceandmixedcase-2.0.1.mesos. 1.2.3.12",
  "A leader.mesos. 1.2.3.4",
  "A liquor-store-4dfjd-0.marathon.mesos. 1.2.3.11",
  "A liquor-store-4dfjd-0.marathon.slave.mesos. 1.2.3.11",
  "A liquor-store-zasmd-1.marathon.mesos. 1.2.3.12",
  "A liquor-store-zasmd-1.marathon.slave.mesos. 1.2.3.12",
  "A liquor-store.marathon.mesos. 1.2.3.11",
  "A liquor-store.marathon.mesos. 1.2.3.12",
  "A liquor-store.marathon.slave.mesos. 1.2.3.11",
  "A liquor-store.marathon.slave.mesos. 1.2.3.12",
  "A liquor.store-4dfjd-0.marathon.mesos. 1.2.3.11",
  "A liquor.store-4dfjd-0.marathon.slave.mesos. 1.2.3.11",
  "A liquor.store-zasmd-1.marathon.mesos. 1.2.3.12",
  "A liquor.store-zasmd-1.marathon.slave.mesos. 1.2.3.12",
  "A liquor.store.marathon.mesos. 1.2.3.11",
  "A liquor.store.marathon.mesos. 1.2.3.12",
  "A liquor.store.marathon.slave.mesos. 1.2.3.11",
  "A liquor.store.marathon.slave.mesos. 1.2.3.12",
  "A marathon.mesos. 1.2.3.11",
  "A master.mesos. 1.2.3.4",
  "A master0.mesos. 1.2.3.4",
  "A nginx-6ud99-0.marathon.mesos. 10.3.0.3",
  "A nginx-6ud99-0.marathon.slave.mesos. 1.2.3.11",
  "A nginx.marathon.mesos. 10.3.0.3",
  "A nginx.marathon.slave.mesos. 1.2.3.11",
  "A ns1.mesos. 10.0.0.5",
  "A reviewbot-8sq89-1.marathon.mesos. 1.2.3.12",
  "A reviewbot-8sq89-1.marathon.slave.mesos. 1.2.3.12",
  "A reviewbot.marathon.mesos. 1.2.3.12",
  "A reviewbot.marathon.slave.mesos. 1.2.3.12",
  "A slave.mesos. 1.2.3.10",
  "A slave.mesos. 1.2.3.11",
  "A slave.mesos. 1.2.3.12",
  "A some-box-h3dyr-0.chronoswithaspaceandmixedcase-2.0.1.mesos. 1.2.3.11",
  "A some-box-h3dyr-0.chronoswithaspaceandmixedcase-2.0.1.slave.mesos. 1.2.3.11",
  "A some-box.chronoswithaspaceandmixedcase-2.0.1.mesos. 1.2.3.11",
  "A some-box.chronoswithaspaceandmixedcase-2.0.1.slave.mesos. 1.2.3.11",
  "A toy-store-go588-3.ipv6-framework.mesos. 12.0.1.2",
  "A toy-store-go588-3.ipv6-framework.mesos. 12.0.1.3",
  "A toy-store.ipv6-framework.mesos. 12.0.1.2",
  "A toy-store.ipv6-framework.mesos. 12.0.1.3",
  "AAAA ipv6-framework.mesos. 2001:db8::1",
  "AAAA slave.mesos. 2001:db8::1",
  "AAAA toy-store-go588-3.ipv6-framework.mesos. fd01:b::1:8000:2",
  "AAAA toy-store-go588-3.ipv6-framework.slave.mesos. 2001:db8::1",
  "AAAA toy-store.ipv6-framework.mesos. fd01:b::1:8000:2",
  "AAAA toy-store.ipv6-framework.slave.mesos. 2001:db8::1",
  "SRV _big-dog._tcp.marathon.mesos. big-dog-4dfjd-0.marathon.mesos.:443",
  "SRV _big-dog._tcp.marathon.mesos. big-dog-4dfjd-0.marathon.mesos.:80",
  "SRV _big-dog._tcp.marathon.slave.mesos. big-dog-4dfjd-0.marathon.slave.mesos.:31354",
  "SRV _big-dog._tcp.marathon.slave.mesos. big-dog-4dfjd-0.marathon.slave.mesos.:31355",
  "SRV _big-dog._udp.marathon.slave.mesos. big-dog-4dfjd-0.marathon.slave.mesos.:31354",
  "SRV _big-dog._udp.marathon.slave.mesos. big-dog-4dfjd-0.marathon.slave.mesos.:31355",
  "SRV _big.dog._tcp.marathon.mesos. big.dog-4dfjd-0.marathon.mesos.:443",
  "SRV _big.dog._tcp.marathon.mesos. big.dog-4dfjd-0.marathon.mesos.:80",
  "SRV _big.dog._tcp.marathon.slave.mesos. big.dog-4dfjd-0.marathon.slave.mesos.:31354",
  "SRV _big.dog._tcp.marathon.slave.mesos. big.dog-4dfjd-0.marathon.slave.mesos.:31355",
  "SRV _big.dog._udp.marathon.slave.mesos. big.dog-4dfjd-0.marathon.slave.mesos.:31354",
  "SRV _big.dog._udp.marathon.slave.mesos. big.dog-4dfjd-0.marathon.slave.mesos.:31355",
  "SRV _car-store._tcp.marathon.mesos. car-store-zinaz-0.marathon.slave.mesos.:31364",
  "SRV _car-store._tcp.marathon.mesos. car-store-zinaz-0.marathon.slave.mesos.:31365",
  "SRV _car-store._tcp.marathon.slave.mesos. car-store-zinaz-0.marathon.slave.mesos.:31364",
  "SRV _car-store._tcp.marathon.slave.mesos. car-store-zinaz-0.marathon.slave.mesos.:31365",
  "SRV _car-store._udp.marathon.mesos. car-store-zinaz-0.marathon.slave.mesos.:31364",
  "SRV _car-store._udp.marathon.mesos. car-store-zinaz-0.marathon.slave.mesos.:31365",
  "SRV _car-store._udp.marathon.slave.mesos. car-store-zinaz-0.marathon.slave.mesos.:31364",
  "SRV _car-store._udp.marathon.slave.mesos. car-store-zinaz-0.marathon.slave.mesos.:31365",
  "SRV _chronos._tcp.marathon.mesos. chronos-rx8q6-0.marathon.slave.mesos.:31332",
  "SRV _chronos._tcp.marathon.slave.mesos. chronos-rx8q6-0.marathon.slave.mesos.:31332",
  "SRV _chronos._udp.marathon.mesos. chronos-rx8q6-0.marathon.slave.mesos.:31332",
  "SRV _chronos._udp.marathon.slave.mesos. chronos-rx8q6-0.marathon.slave.mesos.:31332",
  "SRV _framework._tcp.chronoswithaspaceandmixedcase-2.0.1.mesos. chronoswithaspaceandmixedcase-2.0.1.mesos.:25501",
  "SRV _framework._tcp.ipv6-framework.mesos. ipv6-framework.mesos.:25501",
  "SRV _framework._tcp.marathon.mesos. marathon.mesos.:25501",
  "SRV _http._big-dog._tcp.marathon.mesos. big-dog-4dfjd-0.marathon.mesos.:80",
  "SRV _http._big.dog._tcp.marathon.mesos. big.dog-4dfjd-0.marathon.mesos.:80",
  "SRV _http._liquor-store._tcp.marathon.mesos. liquor-store-4dfjd-0.marathon.mesos.:80",
  "SRV _http._liquor-store._tcp.marathon.mesos. liquor-store-zasmd-1.marathon.mesos.:80",
  "SRV _http._liquor.store._tcp.marathon.mesos. liquor.store-4dfjd-0.marathon.mesos.:80",
  "SRV _http._liquor.store._tcp.marathon.mesos. liquor.store-zasmd-1.marathon.mesos.:80",
  "SRV _https._big-dog._tcp.marathon.mesos. big-dog-4dfjd-0.marathon.mesos.:443",
  "SRV _https._big.dog._tcp.marathon.mesos. big.dog-4dfjd-0.marathon.mesos.:443",
  "SRV _https._liquor-store._tcp.marathon.mesos. liquor-store-4dfjd-0.marathon.mesos.:443",
  "SRV _https._liquor-store._tcp.marathon.mesos. liquor-store-zasmd-1.marathon.mesos.:443",
  "SRV _https._liquor.store._tcp.marathon.mesos. liquor.store-4dfjd-0.marathon.mesos.:443",
  "SRV _https._liquor.store._tcp.marathon.mesos. liquor.store-zasmd-1.marathon.mesos.:443",
  "SRV _leader._tcp.mesos. leader.mesos.:5050",
  "SRV _leader._udp.mesos. leader.mesos.:5050",
  "SRV _liquor-store._tcp.marathon.mesos. liquor-store-4dfjd-0.marathon.mesos.:443",
  "SRV _liquor-store._tcp.marathon.mesos. liquor-store-4dfjd-0.marathon.mesos.:80",
  "SRV _liquor-store._tcp.marathon.mesos. liquor-store-zasmd-1.marathon.mesos.:443",
  "SRV _liquor-store._tcp.marathon.mesos. liquor-store-zasmd-1.marathon.mesos.:80",
  "SRV _liquor-store._tcp.marathon.slave.mesos. liquor-store-4dfjd-0.marathon.slave.mesos.:31354",
  "SRV _liquor-store._tcp.marathon.slave.mesos. liquor-store-4dfjd-0.marathon.slave.mesos.:31355",
  "SRV _liquor-store._tcp.marathon.slave.mesos. liquor-store-zasmd-1.marathon.slave.mesos.:31737",
  "SRV _liquor-store._tcp.marathon.slave.mesos. liquor-store-zasmd-1.marathon.slave.mesos.:31738",
  "SRV _liquor-store._udp.marathon.slave.mesos. liquor-store-4dfjd-0.marathon.slave.mesos.:31354",
  "SRV _liquor-store._udp.marathon.slave.mesos. liquor-store-4dfjd-0.marathon.slave.mesos.:31355",
  "SRV _liquor-store._udp.marathon.slave.mesos. liquor-store-zasmd-1.marathon.slave.mesos.:31737",
  "SRV _liquor-store._udp.marathon.slave.mesos. liquor-store-zasmd-1.marathon.slave.mesos.:31738",
  "SRV _liquor.store._tcp.marathon.mesos. liquor.store-4dfjd-0.marathon.mesos.:443",
  "SRV _liquor.store._tcp.marathon.mesos. liquor.store-4dfjd-0.marathon.mesos.:80",
  "SRV _liquor.store._tcp.marathon.mesos. liquor.store-zasmd-1.marathon.mesos.:443",
  "SRV _liquor.store._tcp.marathon.mesos. liquor.store-zasmd-1.marathon.mesos.:80",
  "SRV _liquor.store._tcp.marathon.slave.mesos. liquor.store-4dfjd-0.marathon.slave.mesos.:31354",
  "SRV _liquor.store._tcp.marathon.slave.mesos. liquor.store-4dfjd-0.marathon.slave.mesos.:31355",
  "SRV _liquor.store._tcp.marathon.slave.mesos. liquor.store-zasmd-1.marathon.slave.mesos.:31737",
  "SRV _liquor.store._tcp.marathon.slave.mesos. liquor.store-zasmd-1.marathon.slave.mesos.:31738",
  "SRV _liquor.store._udp.marathon.slave.mesos. liquor.store-4dfjd-0.marathon.slave.mesos.:31354",
  "SRV _liquor.store._udp.marathon.slave.mesos. liquor.store-4dfjd-0.marathon.slave.mesos.:31355",
  "SRV _liquor.store._udp.marathon.slave.mesos. liquor.store-zasmd-1.marathon.slave.mesos.:31737",
  "SRV _liquor.store._udp.marathon.slave.mesos. liquor.store-zasmd-1.marathon.slave.mesos.:31738",
  "SRV _reviewbot._tcp.marathon.mesos. reviewbot-8sq89-1.marathon.slave.mesos.:31744",
  "SRV _reviewbot._tcp.marathon.slave.mesos. reviewbot-8sq89-1.marathon.slave.mesos.:31744",
  "SRV _reviewbot._udp.marathon.mesos. reviewbot-8sq89-1.marathon.slave.mesos.:31744",
  "SRV _reviewbot._udp.marathon.slave.mesos. reviewbot-8sq89-1.marathon.slave.mesos.:31744",
  "SRV _slave._tcp.mesos. slave.mesos.:5051",
  "SRV _some-box._tcp.chronoswithaspaceandmixedcase-2.0.1.mesos. some-box-h3dyr-0.chronoswithaspaceandmixedcase-2.0.1.slave.mesos.:31354",
  "SRV _some-box._tcp.chronoswithaspaceandmixedcase-2.0.1.slave.mesos. some-box-h3dyr-0.chronoswithaspaceandmixedcase-2.0.1.slave.mesos.:31354",
  "SRV _some-box._udp.chronoswithaspaceandmixedcase-2.0.1.mesos. some-box-h3dyr-0.chronoswithaspaceandmixedcase-2.0.1.slave.mesos.:31354",
  "SRV _some-box._udp.chronoswithaspaceandmixedcase-2.0.1.slave.mesos. some-box-h3dyr-0.chronoswithaspaceandmixedcase-2.0.1.slave.mesos.:31354",
  "SRV _toy-store._tcp.ipv6-framework.mesos. toy-store-go588-3.ipv6-framework.slave.mesos.:31354",
  "SRV _toy-store._tcp.ipv6-framework.mesos. toy-store-go588-3.ipv6-framework.slave.mesos.:31355",
  "SRV _toy-store._tcp.ipv6-framework.slave.mesos. toy-store-go588-3.ipv6-framework.slave.mesos.:31354",
  "SRV _toy-store._tcp.ipv6-framework.slave.mesos. toy-store-go588-3.ipv6-framework.slave.mesos.:31355",
  "SRV _toy-store._udp.ipv6-framework.mesos. toy-store-go588-3.ipv6-framework.slave.mesos.:31354",
  "SRV _toy-store._udp.ipv6-framework.mesos. toy-store-go588-3.ipv6-framework.slave.mesos.:31355",
  "SRV _toy-store._udp.ipv6-framework.slave.mesos. toy-store-go588-3.ipv6-framework.slave.mesos.:31354",
  "SRV _toy-store._udp.ipv6-framework.slave.mesos. toy-store-go588-3.ipv6-framework.slave.mesos.:31355",
];

import * as assert from "node:assert/strict";
import {
  DOCKER_IP_LABEL,
  MESOS_IP_LABEL,
  UnusableStateError,
  latestRunningStatus,
  parsePid,
  parsePorts,
  parseState,
  splitHostPort,
  taskIps,
  type NetworkInfo,
  type Status,
  type Task,
} from "./state";
import { loadFake } from "./testutil";

// --- helpers in the style of upstream state_test.go -------------------------------------------

function task(...statuses: Status[]): Task {
  return { id: "t", name: "t", slaveId: "s", state: "TASK_RUNNING", statuses, ports: "", discovery: undefined };
}
function status(state: string, opts: { netinfos?: NetworkInfo[]; labels?: [string, string][]; timestamp?: number } = {}): Status {
  return {
    state,
    timestamp: opts.timestamp ?? 0,
    labels: (opts.labels ?? []).map(([key, value]) => ({ key, value })),
    networkInfos: opts.netinfos ?? [],
  };
}
const netinfo = (...ips: string[]): NetworkInfo => ({ ipAddresses: ips, ipAddress: "" });
const oldnetinfo = (ip: string): NetworkInfo => ({ ipAddresses: [], ipAddress: ip });
const oldnewnetinfo = (oldIp: string, newIp: string): NetworkInfo => ({ ipAddresses: [newIp], ipAddress: oldIp });
const ips = (t: Task, srcs: string[], agent: string[] = []): string[] => taskIps(t, srcs, agent).map((ip) => ip.text);

describe("records/state", () => {
  describe("parsePorts", () => {
    const cases: [string, number[]][] = [
      ["", []],
      ["[]", []],
      ["[31111-31111, 31115-31117]", [31111, 31115, 31116, 31117]], // upstream TestResources_Ports
      ["[31000-31002, 31005-31005]", [31000, 31001, 31002, 31005]],
      ["[31737-31738]", [31737, 31738]],
      ["[ 1-2 ,3-3 ]", [1, 2, 3]],
      ["[5-3]", []], // reversed: nothing (upstream loop)
      ["[+7-8]", [7, 8]], // strconv.Atoi accepts a sign
      ["[1-2-9]", [1, 2]], // extra fields ignored (pz[1])
      ["x[10-11]y", [10, 11]],
      ["[10-11][12-13]", [10, 11]], // text up to the next '['
    ];
    for (const [s, want] of cases) it(`${JSON.stringify(s)} → [${want.join(", ")}]`, () => assert.deepEqual(parsePorts(s), want));

    const skipped: [string, number[], RegExp][] = [
      ["[31000]", [], /no '-'/], // upstream crashes (index error)
      ["[31000-31001, 31005]", [31000, 31001], /no '-'/],
      ["[a-b, 5-5]", [5], /not a range/],
      ["[, 5-5]", [5], /not a range/],
      ["[1-x]", [], /not a range/],
      ["[65535-65536]", [], /outside/],
      ["31000-31001", [], /no '\['/], // upstream crashes
    ];
    for (const [s, want, why] of skipped) {
      it(`${JSON.stringify(s)} → [${want.join(", ")}] and reports ${why.source}`, () => {
        const problems: string[] = [];
        assert.deepEqual(
          parsePorts(s, (m) => problems.push(m)),
          want,
        );
        assert.equal(problems.length, 1, problems.join("; "));
        assert.match(problems[0]!, why);
      });
    }
  });

  describe("parsePid / splitHostPort", () => {
    const ok: [string, { id: string; host: string; port: string }][] = [
      ["slave(1)@127.0.0.1:5051", { id: "slave(1)", host: "127.0.0.1", port: "5051" }],
      ['  "slave(1)@127.0.0.1:5051"  ', { id: "slave(1)", host: "127.0.0.1", port: "5051" }],
      ["  slave(1)@127.0.0.1:5051  ", { id: "slave(1)", host: "127.0.0.1", port: "5051" }],
      ["scheduler(1)@[2001:db8::1]:25501", { id: "scheduler(1)", host: "2001:db8::1", port: "25501" }],
      ["slave(1)@agent-1.example.com:5051", { id: "slave(1)", host: "agent-1.example.com", port: "5051" }],
      ["@1.2.3.4:1", { id: "", host: "1.2.3.4", port: "1" }],
    ];
    for (const [s, want] of ok) it(`${JSON.stringify(s)}`, () => assert.deepEqual(parsePid(s), want));
    const bad: [string, RegExp][] = [
      ["slave(1)127.0.0.1:5051", /exactly one '@'/],
      ["a@b@1.2.3.4:5", /exactly one '@'/],
      ["slave(1)@127.0.0.1", /missing port/],
      ["slave(1)@2001:db8::1:5051", /too many colons/],
      ["slave(1)@[2001:db8::1]", /missing port/],
      ["slave(1)@[2001:db8::1:5051", /missing '\]'/],
      ["slave(1)@1.2.3.4:http", /invalid port/],
      ["slave(1)@1.2.3.4:70000", /invalid port/],
      ["slave(1)@1.2.3.4:", /invalid port/],
    ];
    for (const [s, why] of bad) it(`${JSON.stringify(s)} throws ${why.source}`, () => assert.throws(() => parsePid(s), why));
    it("splitHostPort for masters / leader", () => {
      assert.deepEqual(splitHostPort("0.0.0.8:9"), { host: "0.0.0.8", port: "9" });
      assert.deepEqual(splitHostPort("[2001:db8::1]:0"), { host: "2001:db8::1", port: "0" });
      assert.throws(() => splitHostPort("4"), /missing port/);
    });
  });

  describe("IP sources (upstream TestTask_IPs, master e888ef4 first-source rule)", () => {
    const cases: { name: string; task: Task; srcs: string[]; agent?: string[]; want: string[] }[] = [
      { name: "no sources", task: task(), srcs: [], want: [] },
      { name: "host without agent IPs", task: task(), srcs: ["host"], want: [] },
      {
        name: "no IPs for the given sources",
        task: task(status("TASK_RUNNING", { netinfos: [netinfo("1.2.3.4")] })),
        srcs: ["host", "mesos"],
        want: [],
      },
      {
        name: "unknown IP sources are ignored",
        task: task(status("TASK_RUNNING", { netinfos: [netinfo("1.2.3.4")] })),
        srcs: ["foo", "netinfo", "bar"],
        want: ["1.2.3.4"],
      },
      {
        name: "multiple NetworkInfos each with one IP",
        task: task(status("TASK_RUNNING", { netinfos: [netinfo("1.2.3.4"), netinfo("2.3.4.5")] })),
        srcs: ["netinfo"],
        want: ["1.2.3.4", "2.3.4.5"],
      },
      {
        name: "multiple IPs on a NetworkInfo",
        task: task(status("TASK_RUNNING", { netinfos: [netinfo("1.2.3.4", "2.3.4.5")] })),
        srcs: ["netinfo"],
        want: ["1.2.3.4", "2.3.4.5"],
      },
      {
        name: "back-compat with 0.25 ip_address",
        task: task(status("TASK_RUNNING", { netinfos: [oldnetinfo("1.2.3.4")] })),
        srcs: ["netinfo"],
        want: ["1.2.3.4"],
      },
      {
        name: "back-compat does not break the multi-netinfo case",
        task: task(status("TASK_RUNNING", { netinfos: [oldnetinfo(""), netinfo("1.2.3.4")] })),
        srcs: ["netinfo"],
        want: ["1.2.3.4"],
      },
      {
        name: "ip_addresses preferred over the legacy ip_address",
        task: task(status("TASK_RUNNING", { netinfos: [oldnewnetinfo("1.2.3.4", "1.2.4.8")] })),
        srcs: ["netinfo"],
        want: ["1.2.4.8"],
      },
      {
        // upstream (v0.7 rc) concatenated sources: ["2.3.4.5", "1.2.3.4"]; e888ef4 uses the first source with an IP
        name: "source order: first source that yields an IP wins",
        task: task(status("TASK_RUNNING", { netinfos: [netinfo("1.2.3.4")] })),
        srcs: ["host", "netinfo"],
        agent: ["2.3.4.5"],
        want: ["2.3.4.5"],
      },
      {
        name: "sources yielding only unparsable strings are skipped",
        task: task(status("TASK_RUNNING", { labels: [[DOCKER_IP_LABEL, "not-an-ip"]], netinfos: [netinfo("", "1.2.3.4")] })),
        srcs: ["docker", "netinfo"],
        want: ["1.2.3.4"],
      },
      {
        name: "only TASK_RUNNING statuses are consulted",
        task: task(status("TASK_RUNNING", { netinfos: [netinfo("1.2.3.4")] }), status("TASK_STOPPED", { netinfos: [netinfo("2.3.4.5")] })),
        srcs: ["netinfo"],
        want: ["1.2.3.4"],
      },
      {
        name: "the latest TASK_RUNNING status only (statuses ordering)",
        task: task(
          status("TASK_RUNNING", { netinfos: [netinfo("1.2.3.4")], timestamp: 1 }),
          status("TASK_RUNNING", { netinfos: [netinfo("1.3.5.7")], timestamp: 4 }),
          status("TASK_RUNNING", { labels: [[DOCKER_IP_LABEL, "2.3.4.5"]], timestamp: 3 }),
          status("TASK_RUNNING", { labels: [[DOCKER_IP_LABEL, "2.4.6.8"]], timestamp: 5 }),
          status("TASK_RUNNING", { labels: [[DOCKER_IP_LABEL, "2.5.8.1"]], timestamp: 2 }),
        ),
        srcs: ["docker", "netinfo"],
        want: ["2.4.6.8"],
      },
      {
        name: "latest status has no netinfo → netinfo empty (older statuses are not consulted)",
        task: task(
          status("TASK_RUNNING", { netinfos: [netinfo("1.3.5.7")], timestamp: 4 }),
          status("TASK_RUNNING", { labels: [[DOCKER_IP_LABEL, "2.4.6.8"]], timestamp: 5 }),
        ),
        srcs: ["netinfo", "host"],
        agent: ["9.9.9.9"],
        want: ["9.9.9.9"],
      },
      {
        name: "label ordering",
        task: task(
          status("TASK_RUNNING", {
            labels: [
              [DOCKER_IP_LABEL, "1.2.3.4"],
              [DOCKER_IP_LABEL, "2.3.4.5"],
            ],
          }),
        ),
        srcs: ["docker"],
        want: ["1.2.3.4", "2.3.4.5"],
      },
      {
        name: "mesos label",
        task: task(status("TASK_RUNNING", { labels: [[MESOS_IP_LABEL, "10.3.0.3"]] })),
        srcs: ["docker", "mesos"],
        want: ["10.3.0.3"],
      },
      {
        name: "ties: the first status with the greatest timestamp",
        task: task(
          status("TASK_RUNNING", { labels: [[DOCKER_IP_LABEL, "1.1.1.1"]], timestamp: 7 }),
          status("TASK_RUNNING", { labels: [[DOCKER_IP_LABEL, "2.2.2.2"]], timestamp: 7 }),
        ),
        srcs: ["docker"],
        want: ["1.1.1.1"],
      },
      {
        name: "IPv4 and IPv6 from one source; canonical text; duplicates collapse",
        task: task(status("TASK_RUNNING", { netinfos: [netinfo("12.0.1.2", "FD01:B:0::1:8000:2", "12.0.1.2", "::ffff:12.0.1.9")] })),
        srcs: ["netinfo"],
        want: ["12.0.1.2", "fd01:b::1:8000:2", "12.0.1.9"],
      },
    ];
    for (const c of cases) it(c.name, () => assert.deepEqual(ips(c.task, c.srcs, c.agent), c.want));

    it("latestRunningStatus: none without TASK_RUNNING; timestamps ≤ -1 never chosen (upstream starts at -1)", () => {
      assert.equal(latestRunningStatus([status("TASK_STAGING")]), undefined);
      assert.equal(latestRunningStatus([status("TASK_RUNNING", { timestamp: -1 })]), undefined);
      const s = status("TASK_RUNNING", { timestamp: 0 });
      assert.equal(latestRunningStatus([s]), s);
    });
  });

  describe("parseState", () => {
    it("reads fake.json: 4 agents, 4 frameworks, tasks with discovery info", () => {
      const warnings: string[] = [];
      const st = parseState(loadFake(), warnings);
      assert.deepEqual(warnings, []);
      assert.equal(st.leader, "master@1.2.3.4:5050");
      assert.equal(st.slaves.length, 4);
      assert.deepEqual(
        st.frameworks.map((f) => [f.name, f.tasks.length]),
        [
          ["ipv6-framework", 1],
          ["chronos with a space AND MIXED CASE-2.0.1", 1],
          ["no pid", 0],
          ["marathon", 8],
        ],
      );
      assert.deepEqual(st.slaves[3]!.pid, { id: "slave(1)", host: "2001:db8::1", port: "5051" });
      assert.equal(st.frameworks[2]!.pid, undefined);
      assert.equal(st.frameworks[2]!.hostname, "localhost");
      const liquor = st.frameworks[3]!.tasks.find((t) => t.name === "liquor.store")!;
      assert.equal(liquor.discovery?.name, "liquor.store");
      assert.deepEqual(liquor.discovery?.ports, [
        { number: 80, protocol: "tcp", name: "http" },
        { number: 443, protocol: "tcp", name: "https" },
      ]);
      assert.equal(liquor.ports, "[31354-31354, 31355-31355]");
      assert.equal(liquor.statuses.length, 4);
    });

    it("throws UnusableStateError for a non-object or a missing/empty/mistyped leader", () => {
      for (const bad of [null, 1, "x", [], {}, { leader: "" }, { leader: null }, { leader: 5 }, { frameworks: [] }]) {
        assert.throws(
          () => parseState(bad),
          (e: unknown) => e instanceof UnusableStateError && /master state/.test(e.message),
          JSON.stringify(bad),
        );
      }
    });

    it("tolerates mistyped fields: treated as absent and reported", () => {
      const warnings: string[] = [];
      const st = parseState(
        {
          leader: "m@1.2.3.4:5050",
          slaves: [{ id: 7, pid: 3 }, "junk", null, { id: "a", pid: "nonsense" }],
          frameworks: [
            {
              name: ["x"],
              tasks: {},
            },
            {
              name: "f",
              tasks: [
                {
                  id: "t",
                  name: "n",
                  state: "TASK_RUNNING",
                  statuses: [{ state: "TASK_RUNNING", timestamp: "5", labels: [1] }],
                  resources: { ports: 31000 },
                  discovery: { name: "d", ports: { ports: [{ number: "80" }, { number: 8.5 }, { number: 81 }] } },
                },
              ],
            },
          ],
        },
        warnings,
      );
      assert.equal(st.slaves.length, 2);
      assert.deepEqual(st.slaves[0], { id: "", pid: undefined, pidError: "slaves[0].pid: expected string, got number" });
      assert.match(st.slaves[1]!.pidError!, /exactly one '@'/);
      assert.equal(st.frameworks[0]!.name, "");
      assert.deepEqual(st.frameworks[0]!.tasks, []);
      const t = st.frameworks[1]!.tasks[0]!;
      assert.equal(t.statuses[0]!.timestamp, 0);
      assert.equal(t.ports, "");
      assert.deepEqual(
        t.discovery!.ports.map((p) => p.number),
        [undefined, undefined, 81],
      );
      for (const re of [
        /slaves\[0\]\.id: expected string, got number/,
        /slaves\[1\]: expected object, got string/,
        /frameworks\[0\]\.name: expected string, got array/,
        /frameworks\[0\]\.tasks: expected array, got object/,
        /statuses\[0\]\.timestamp: expected number, got string/,
        /labels\[0\]: expected object, got number/,
        /resources\.ports: expected string, got number/,
        /ports\[0\]\.number: expected integer, got "80"/,
        /ports\[1\]\.number: expected integer, got 8\.5/,
      ]) {
        assert.ok(
          warnings.some((w) => re.test(w)),
          `${re.source} in ${JSON.stringify(warnings, null, 1)}`,
        );
      }
    });
  });
});

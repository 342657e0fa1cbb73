import { strict as assert } from "node:assert";
import type { AgentView, TaskView } from "../master/cluster-state";
import { AppValidationError, type ValidationFailure } from "../model/app";
import type { AgentRecord } from "../model/launch";
import { constraintsAllow, type Constraint } from "./app-constraints";
import { parseApp } from "./app-json";
import { chooseAgent } from "./placement";

const APP = { id: "/web", cmd: "true" };

function failure(input: unknown): ValidationFailure {
  try {
    parseApp(input);
  } catch (err) {
    if (err instanceof AppValidationError) return err.failure;
    throw err;
  }
  assert.fail("expected an AppValidationError");
}

const agent = (hostname: string, attributes: Record<string, string> = {}): Pick<AgentRecord, "hostname" | "attributes"> => ({
  hostname,
  attributes,
});
const A1 = agent("agent-1", { rack: "r1" });
const A2 = agent("agent-2", { rack: "r1" });
const A3 = agent("agent-3", { rack: "r2" });
const NO_RACK = agent("agent-4");
const ALL = [A1, A2, A3];

describe("marathon constraints: parsing", () => {
  it("absent → none; GET returns []", () => {
    const app = parseApp(APP);
    assert.deepEqual(app.constraints, []);
    assert.deepEqual(app.json.constraints, []);
  });

  it("valid constraints are kept as given and normalised for the scheduler", () => {
    const given = [
      ["hostname", "UNIQUE"],
      ["hostname", "CLUSTER", "agent-3"],
      ["hostname", "LIKE", "agent-[12]"],
      ["@hostname", "UNLIKE", "agent-3"],
      ["rack", "GROUP_BY", "2"],
      ["rack", "MAX_PER", "2"],
      ["rack", "IS", "r1"],
      ["rack", "CLUSTER"],
    ];
    const app = parseApp({ ...APP, constraints: given });
    assert.deepEqual(app.json.constraints, given);
    assert.deepEqual(app.constraints, [
      { field: "hostname", operator: "UNIQUE" },
      { field: "hostname", operator: "CLUSTER", value: "agent-3" },
      { field: "hostname", operator: "LIKE", value: "agent-[12]" },
      { field: "hostname", operator: "UNLIKE", value: "agent-3" },
      { field: "rack", operator: "GROUP_BY", value: "2" },
      { field: "rack", operator: "MAX_PER", value: "2" },
      { field: "rack", operator: "IS", value: "r1" },
      { field: "rack", operator: "CLUSTER" },
    ]);
  });

  const bad: [string, unknown, string, RegExp][] = [
    ["not an array", { hostname: "UNIQUE" }, "/constraints", /must be an array/],
    ["an element that is not an array", ["hostname:UNIQUE"], "/constraints(0)", /\[field, operator\]/],
    ["too short", [["hostname"]], "/constraints(0)", /\[field, operator\]/],
    ["too long", [["hostname", "LIKE", "a", "b"]], "/constraints(0)", /\[field, operator\]/],
    ["an empty field", [["", "UNIQUE"]], "/constraints(0)(0)", /non-empty string/],
    ["an unknown operator", [["hostname", "NEAR"]], "/constraints(0)(1)", /one of UNIQUE, CLUSTER/],
    ["a lower-case operator", [["hostname", "unique"]], "/constraints(0)(1)", /one of/],
    ["a non-string value", [["hostname", "MAX_PER", 2]], "/constraints(0)(2)", /must be a string/],
    ["UNIQUE with a value", [["hostname", "UNIQUE", "x"]], "/constraints(0)(2)", /takes no value/],
    ["LIKE without a value", [["hostname", "LIKE"]], "/constraints(0)(2)", /needs a regular expression/],
    ["UNLIKE with a broken regex", [["hostname", "UNLIKE", "agent-("]], "/constraints(0)(2)", /valid regular expression/],
    ["MAX_PER 0", [["hostname", "MAX_PER", "0"]], "/constraints(0)(2)", /integer ≥ 1/],
    ["GROUP_BY with a word", [["rack", "GROUP_BY", "two"]], "/constraints(0)(2)", /number of groups/],
    ["IS without a value", [["rack", "IS"]], "/constraints(0)(2)", /needs a value/],
    ["CLUSTER with an empty value", [["hostname", "CLUSTER", ""]], "/constraints(0)(2)", /non-empty/],
  ];
  for (const [name, constraints, path, error] of bad)
    it(`422 naming the field: ${name}`, () => {
      const f = failure({ ...APP, constraints });
      assert.equal(f.message, "Object is not valid");
      assert.deepEqual(
        f.details.map((d) => d.path),
        [path],
      );
      assert.match(f.details[0]!.errors.join("; "), error);
    });

  it("every bad constraint is reported, with the app's other problems", () => {
    const f = failure({
      ...APP,
      instances: -1,
      constraints: [
        ["hostname", "UNIQUE"],
        ["hostname", "NEAR"],
        ["rack", "LIKE"],
      ],
    });
    assert.deepEqual(
      f.details.map((d) => d.path),
      ["/instances", "/constraints(1)(1)", "/constraints(2)(2)"],
    );
  });
});

describe("marathon constraints: which agent may take one more task", () => {
  const allow = (c: Constraint[], candidate: typeof A1, placed: (typeof A1)[] = []): boolean => constraintsAllow(c, candidate, placed, ALL);

  it("no constraints: any agent", () => assert.ok(allow([], A1)));
  it("UNIQUE: not where a task already runs", () => {
    const c: Constraint[] = [{ field: "hostname", operator: "UNIQUE" }];
    assert.ok(allow(c, A1, [A2]));
    assert.ok(!allow(c, A2, [A2]));
    assert.ok(!allow([{ field: "rack", operator: "UNIQUE" }], A2, [A1]), "same rack");
  });
  it("CLUSTER with a value: only there", () => {
    const c: Constraint[] = [{ field: "hostname", operator: "CLUSTER", value: "agent-3" }];
    assert.deepEqual(
      ALL.map((a) => allow(c, a)),
      [false, false, true],
    );
  });
  it("CLUSTER without a value: where the first task went", () => {
    const c: Constraint[] = [{ field: "rack", operator: "CLUSTER" }];
    assert.ok(allow(c, A3));
    assert.ok(allow(c, A2, [A1]));
    assert.ok(!allow(c, A3, [A1]));
  });
  it("LIKE / UNLIKE: the regex matches the whole value", () => {
    const like: Constraint[] = [{ field: "hostname", operator: "LIKE", value: "agent-[12]" }];
    const unlike: Constraint[] = [{ field: "hostname", operator: "UNLIKE", value: "agent-3" }];
    assert.deepEqual(
      ALL.map((a) => allow(like, a)),
      [true, true, false],
    );
    assert.deepEqual(
      ALL.map((a) => allow(unlike, a)),
      [true, true, false],
    );
    assert.ok(!allow([{ field: "hostname", operator: "LIKE", value: "agent" }], A1), "a prefix is not a match");
    assert.ok(allow([{ field: "hostname", operator: "UNLIKE", value: "agent" }], A1));
  });
  it("MAX_PER and IS", () => {
    const max: Constraint[] = [{ field: "rack", operator: "MAX_PER", value: "2" }];
    assert.ok(allow(max, A2, [A1]));
    assert.ok(!allow(max, A2, [A1, A2]));
    assert.ok(allow(max, A3, [A1, A2]));
    assert.ok(allow([{ field: "rack", operator: "IS", value: "r2" }], A3));
    assert.ok(!allow([{ field: "rack", operator: "IS", value: "r2" }], A1));
  });
  it("GROUP_BY: the least used value", () => {
    const c: Constraint[] = [{ field: "rack", operator: "GROUP_BY" }];
    assert.ok(allow(c, A1));
    assert.ok(!allow(c, A2, [A1]), "r1 has one, r2 none");
    assert.ok(allow(c, A3, [A1]));
    assert.ok(allow(c, A2, [A1, A3]));
  });
  it("an agent without the attribute matches only UNLIKE", () => {
    for (const operator of ["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "MAX_PER", "IS"] as const)
      assert.ok(!constraintsAllow([{ field: "rack", operator, value: operator === "MAX_PER" ? "1" : "r1" }], NO_RACK, [], ALL), operator);
    assert.ok(constraintsAllow([{ field: "rack", operator: "UNLIKE", value: "r1" }], NO_RACK, [], ALL));
  });
  it("every constraint must hold", () => {
    const c: Constraint[] = [
      { field: "hostname", operator: "UNLIKE", value: "agent-3" },
      { field: "hostname", operator: "UNIQUE" },
    ];
    assert.ok(allow(c, A1, [A2]));
    assert.ok(!allow(c, A2, [A2]));
    assert.ok(!allow(c, A3, [A2]));
  });
});

describe("placement with an allow filter", () => {
  const view = (id: string, hostname: string): AgentView => ({
    record: {
      id,
      ip: "10.0.0.1",
      hostname,
      port: 5051,
      portRange: [31000, 31010],
      cpus: 1,
      mem: 1024,
      disk: 0,
      registeredAt: 0,
      attributes: {},
    },
    lastHeartbeatMs: 0,
    active: true,
  });
  const agents = [view("a1", "agent-1"), view("a2", "agent-2"), view("a3", "agent-3")];
  const none: TaskView[] = [];
  const need = { count: 1, fixed: [] };

  it("skips agents the filter refuses, however lightly loaded", () => {
    const got = chooseAgent(agents, none, need, { bridge: false, cursor: 0, allow: (a) => a.record.hostname === "agent-3" });
    assert.equal(got?.agent.record.id, "a3");
  });
  it("no agent allowed → undefined (the task waits)", () => {
    assert.equal(chooseAgent(agents, none, need, { bridge: false, cursor: 0, allow: () => false }), undefined);
  });
});

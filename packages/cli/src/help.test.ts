import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { helpText } from "./help";
import { COMMANDS, cliOptions } from "./options";
import { services } from "./services";

// `dcnet --help` and the READMEs' `dcnet …` examples must name only commands and flags that exist.
const flags = new Set(Object.keys(cliOptions({})).map((f) => `--${f}`));
const repo = path.resolve(__dirname, "../../..");
const docs = [
  "README.md",
  "docker-compose.yml",
  ...["services", "packages"].flatMap((d) =>
    fs.readdirSync(path.join(repo, d)).flatMap((p) => ["README.md", "CONFIG.md"].map((f) => path.join(d, p, f))),
  ),
].filter((f) => fs.existsSync(path.join(repo, f)));

describe("cli help", () => {
  const help = helpText();

  it("names every flag main.ts parses, and no other", () => {
    const named = new Set(help.match(/--[a-z][a-z-]*/g));
    assert.deepEqual([...named].sort(), [...flags].sort());
  });

  it("names every command and every service", () => {
    const commands = new Set([...help.matchAll(/^ {2}([a-z][a-z0-9-]*)/gm)].map((m) => m[1]));
    for (const c of COMMANDS) assert.ok(commands.has(c), `command ${c} missing from the help`);
    for (const s of services) assert.ok(commands.has(s.name), `service ${s.name} missing from the help`);
    assert.ok(help.includes("-c FILE") && help.includes("-h"), "short options");
  });

  it("README examples of `dcnet …` use existing commands, services and flags", () => {
    assert.ok(docs.length >= 5, docs.join());
    const names = new Set(services.map((s) => s.name));
    const problems: string[] = [];
    let examples = 0;
    for (const f of docs) {
      for (const [line] of fs.readFileSync(path.join(repo, f), "utf8").matchAll(/\bdcnet (?:[a-z][a-z-]*)(?:[^\n`'"|;&)]*)/g)) {
        const words = line.split(/\s+/).slice(1);
        const command = words[0]!;
        // Prose ("dcnet cluster", "dcnet services") is not an example: only lines that start like one.
        if (!(COMMANDS as readonly string[]).includes(command)) continue;
        examples++;
        for (const w of words) if (w.startsWith("--") && !flags.has(w.replace(/=.*/, ""))) problems.push(`${f}: ${line}: ${w}`);
        if (command === "run")
          for (const w of words.slice(1)) {
            if (w.startsWith("-") || w === "FILE" || w.includes(".") || w.includes("<") || w.includes("/")) break;
            if (!names.has(w)) problems.push(`${f}: ${line}: no service "${w}"`);
          }
      }
    }
    assert.ok(examples >= 20, `only ${examples} examples found`);
    assert.deepEqual(problems, []);
  });
});

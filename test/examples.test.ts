/**
 * The scripts in examples/ run as examples/README.md says: every script is either listed in its table, with the
 * command that runs it, or named there as a shared helper; and every listed script runs to completion from the
 * repository root (exit code 0) without printing a NaN or an infinite number. The examples print their checks
 * rather than assert them, so this is what keeps them from rotting: a renamed option or a new argument check that
 * an example trips over fails here, not in a new user's first hour. (They also type-check with `npm run typecheck`.)
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "examples", "README.md"), "utf8");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/** The table's rows: the linked script and the command given for it. */
const rows = [...readme.matchAll(/^\| \[`([\w-]+\.ts)`\]\(\1\) +\| `([^`]+)` +\|/gm)].map((m) => ({
  file: m[1]!,
  command: m[2]!,
}));

/** The command a row gives, as `node` arguments (`npm run demo` is the package's demo script). */
function nodeArgs(command: string): string[] {
  const script = command === "npm run demo" ? pkg.scripts.demo : command;
  const m = /^node --import tsx (examples\/[\w-]+\.ts)$/.exec(script);
  assert.ok(m, `examples/README.md: command \`${command}\` is not \`node --import tsx examples/<file>.ts\``);
  return ["--import", "tsx", m[1]!];
}

describe("examples", () => {
  test("examples/README.md lists every script, with a command that runs it, or names it as a helper", () => {
    assert.ok(rows.length >= 10, `only ${rows.length} rows in the table`);
    const helpers = /^Run each from the repository root after `npm ci`\. \(([^)]*)\)/m.exec(readme)?.[1] ?? "";
    const scripts = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".ts"));
    for (const f of scripts) {
      const listed = rows.some((r) => r.file === f);
      const helper = helpers.includes(`\`${f}\``);
      assert.ok(listed !== helper, `examples/${f}: ${listed ? "both listed and named a helper" : "not listed"}`);
    }
    for (const r of rows) {
      assert.ok(scripts.includes(r.file), `examples/README.md lists ${r.file}, which does not exist`);
      assert.deepEqual(nodeArgs(r.command).at(-1), `examples/${r.file}`, `${r.file}: its command runs another file`);
    }
  });

  for (const { file, command } of rows) {
    test(`${file} runs (${command})`, async () => {
      const { stdout } = await promisify(execFile)(process.execPath, nodeArgs(command), {
        cwd: root,
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
      });
      assert.ok(stdout.trim().length > 0, `${file} printed nothing`);
      const bad = stdout.split("\n").filter((line) => /\bNaN\b|\bInfinity\b/.test(line));
      assert.deepEqual(bad, [], `${file} printed non-finite numbers`);
    });
  }
});

/**
 * The user guides (docs/guides/*.md) run as written. Each guide is one program: its ```ts blocks, in order, form
 * one ES module whose line numbers are the guide's own (`extractMarkdownProgram`), so a later block sees what the
 * earlier ones defined, exactly as a reader following the guide does. Each block may repeat earlier imports (they
 * are merged). Lines whose trailing comment states a value (`grad(f)(x).toArray(); // [2, 4]`, `≈ 0.25` for 1e-3
 * tolerance) or an error (`// ShapeError: message…`) are checked, as in the doc-example tests; a failure names
 * `guide.md:line`. The guides also link to each other: those links must resolve to existing files. The programs
 * also type-check under `strict`, with `"diffopt"` mapped to src/index.ts (one compilation for all guides), so the
 * guides show code that compiles for TypeScript users, not only code that runs.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ExampleRunner, extractMarkdownProgram } from "./doc-examples-harness.js";
import { typeCheckPrograms } from "./typecheck-harness.js";

/** The anchors of a markdown file's headings, as GitHub and typedoc derive them ("## A `b`: c" → "a-b-c"). */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) {
    anchors.add(
      m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s-]/gu, "")
        .trim()
        .replace(/\s/g, "-"),
    );
  }
  return anchors;
}

const root = fileURLToPath(new URL("..", import.meta.url));
const guidesDir = join(root, "docs", "guides");
const guides = readdirSync(guidesDir)
  .filter((f) => f.endsWith(".md"))
  .sort()
  .map((f) => join(guidesDir, f));
const runner = new ExampleRunner(root);
after(() => runner.dispose());

describe("markdown programs", () => {
  test("keep the file's line numbers, run only ts blocks and merge repeated imports", () => {
    const text = [
      "# Title", // 1
      "```ts", // 2
      'import { add, tensor } from "diffopt";', // 3
      "const a = add(1, 2); // 3", // 4
      "```", // 5
      "```sh", // 6
      "npm ci", // 7
      "```", // 8
      "```ts", // 9
      'import { add, mul } from "diffopt";', // 10
      'import { tensor } from "diffopt";', // 11
      "mul(a, 2);", // 12
      "```", // 13
    ].join("\n");
    const program = extractMarkdownProgram(text, "g.md");
    const lines = program.code.split("\n");
    assert.equal(program.line, 1);
    assert.equal(lines.length, 13);
    assert.equal(lines[3], "const a = add(1, 2); // 3");
    assert.equal(lines[6], "");
    assert.match(lines[9]!, /^import \{ mul \} from "diffopt";$/);
    assert.equal(lines[10], "");
    assert.equal(lines[11], "mul(a, 2);");
  });

  test("a wrong value in a guide fails with the guide's line", async () => {
    const text = ["Intro", "```ts", 'import { add } from "diffopt";', "", "add(1, 2).item(); // 4", "```"].join("\n");
    await assert.rejects(runner.run(extractMarkdownProgram(text, "g.md")), /g\.md:5: value: expected 4, got 3/);
  });

  test("an unterminated block is an error", () => {
    assert.throws(() => extractMarkdownProgram("```ts\nconst a = 1;\n", "g.md"), /g\.md: unterminated code block/);
  });
});

describe("guides", () => {
  test("the four guides exist", () => {
    const names = guides.map((g) => relative(guidesDir, g));
    for (const name of ["getting-started.md", "implicit-differentiation.md", "solvers.md", "linear-algebra.md"]) {
      assert.ok(names.includes(name), `docs/guides/${name} is missing`);
    }
  });

  test("the guides type-check under strict", () => {
    const programs = guides.map((file) => extractMarkdownProgram(readFileSync(file, "utf8"), relative(root, file)));
    assert.deepEqual(typeCheckPrograms(programs, root), []);
  });

  for (const file of guides) {
    const name = relative(root, file);
    const text = readFileSync(file, "utf8");

    test(`${name} runs and its stated values hold`, async () => {
      const { checks } = await runner.run(extractMarkdownProgram(text, name));
      assert.ok(checks >= 10, `${name}: only ${checks} checked values; a guide should show real outputs`);
    });

    test(`${name}: relative links point at existing files and headings`, () => {
      for (const m of text.matchAll(/\]\((\.{1,2}\/[^)#\s]+)(?:#([^)\s]*))?\)/g)) {
        const target = join(dirname(file), m[1]!);
        assert.ok(existsSync(target), `${name}: link ${m[1]} does not resolve (${target})`);
        if (m[2] !== undefined) {
          const anchors = headingAnchors(readFileSync(target, "utf8"));
          assert.ok(anchors.has(m[2]), `${name}: link ${m[0]}: no heading with anchor #${m[2]} in ${m[1]}`);
        }
      }
    });
  }
});

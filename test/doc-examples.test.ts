/**
 * Every ```ts block of every doc comment under src/ runs, as an ES module importing "diffopt" from src/index.ts;
 * lines such as `grad(f)(x).toArray(); // [2, 4]` also check the stated value. One test per example, named `file:line`.
 * The examples also type-check under `strict` (one compilation for all), so they show code a TypeScript user can
 * copy; an example that is ill-typed on purpose says so with a `// @ts-expect-error` line.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  ExampleRunner,
  checkValue,
  collectExamples,
  extractExamples,
  instrument,
  parseExpectation,
  parseLogExpectations,
} from "./doc-examples-harness.js";
import { typeCheckPrograms } from "./typecheck-harness.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const runner = new ExampleRunner(root);
after(() => runner.dispose());

describe("doc-example harness", () => {
  test("extracts ```ts blocks of doc comments with the line of their first code line", () => {
    const text = [
      "/**",
      " * Adds.",
      " * @example",
      " * ```ts",
      ' * import { add } from "diffopt";',
      " *   add(1, 2).item(); // 3",
      " * ```",
      " */",
      "/* not a doc comment\n * ```ts\n * boom();\n * ```\n */",
    ].join("\n");
    assert.deepEqual(extractExamples(text, "a.ts"), [
      { file: "a.ts", line: 5, code: 'import { add } from "diffopt";\n  add(1, 2).item(); // 3' },
    ]);
  });

  test("parses literal comments and leaves prose, ellipses and trailing text unchecked", () => {
    assert.deepEqual(parseExpectation(" [2, 4]"), { value: [2, 4], approx: false, float64Array: false });
    assert.deepEqual(parseExpectation(" ≈ [0.5]"), { value: [0.5], approx: true, float64Array: false });
    assert.deepEqual(parseExpectation(" Float64Array [1]"), { value: [1], approx: false, float64Array: true });
    assert.deepEqual(parseExpectation(" { a: tensor([1, 2]), b: [tensor(3)] }")?.value, { a: [1, 2], b: [3] });
    assert.deepEqual(parseExpectation(' "cholesky"')?.value, "cholesky");
    for (const prose of [" 0.6931…", " [1, 2] (to rounding)", " log 2", " 3 (not 6)", " shape [2, 2]"]) {
      assert.equal(parseExpectation(prose), undefined, prose);
    }
    assert.deepEqual(
      parseLogExpectations(" [2, 2] 4 true")?.map((e) => e.value),
      [[2, 2], 4, true],
    );
    assert.equal(parseLogExpectations(" -1 1.79 (log 6)"), undefined);
    assert.deepEqual(
      parseLogExpectations(' "a \\" b" {"k": [1, 2]}')?.map((e) => e.value),
      ['a " b', { k: [1, 2] }],
    );
  });

  test("compares numbers with rtol 1e-6 and structures exactly", () => {
    assert.equal(checkValue(0.1 + 0.2, parseExpectation("0.3")!, "w"), 0.1 + 0.2);
    assert.throws(() => checkValue(0.3001, parseExpectation("0.3")!, "here:1"), /here:1: value: expected 0\.3/);
    assert.throws(() => checkValue([1, 2], parseExpectation("[1, 2, 3]")!, "w"), /expected length 3/);
    assert.throws(() => checkValue([1, 2], parseExpectation("Float64Array [1, 2]")!, "w"), /Float64Array/);
    assert.throws(() => checkValue({ a: 1 }, parseExpectation("{ b: 1 }")!, "w"), /expected keys \[b\]/);
    checkValue(0.30001, parseExpectation("≈ 0.3")!, "w");
  });

  test("instruments value lines, declarations and logging statements, and leaves prose lines alone", () => {
    const example = {
      file: "f.ts",
      line: 10,
      code: "const y = 2; // 2\ny +\n  1; // 3\nconsole.log(y, [y]); // 2 [2]\ny; // the answer",
    };
    const { code, checks } = instrument(example);
    assert.deepEqual(checks, ["f.ts:10", "f.ts:12", "f.ts:13"]);
    assert.match(code, /checkValue\(\(y \+\n {2}1\), .*"f\.ts:12"\)/);
    assert.match(code, /log\.mark\(\); console\.log\(y, \[y\]\); .*log\.check\(.*"f\.ts:13"\);/);
    assert.match(code, /\ny; \/\/ the answer$/);
  });

  test("a wrong stated value or error, or a throwing example fails its run, naming file and line", async () => {
    const wrong = { file: "w.ts", line: 3, code: 'import { add } from "diffopt";\nadd(1, 2).item(); // 4' };
    await assert.rejects(runner.run(wrong), /w\.ts:4: value: expected 4, got 3/);
    const throwing = { file: "t.ts", line: 7, code: "throw new RangeError('bad');" };
    await assert.rejects(runner.run(throwing), /t\.ts:7: bad/);
    const code =
      'import { tensor } from "diffopt";\ntensor([1, 2]).item();\n// ShapeError: item: expected a tensor with one element, got shape [2]';
    await runner.run({ file: "e.ts", line: 1, code });
    const noThrow = { file: "e.ts", line: 1, code: code.replace("[1, 2]", "[1]") };
    await assert.rejects(runner.run(noThrow), /e\.ts:2: expected a ShapeError, nothing was thrown/);
    const otherMessage = { file: "e.ts", line: 1, code: code.replace("[1, 2]", "[1, 2, 3]") };
    await assert.rejects(runner.run(otherMessage), /e\.ts:2: expected the message .*got shape \[3\]/);
    await runner.run({
      file: "l.ts",
      line: 1,
      code: "try { JSON.parse('{'); } catch (e) { console.log(e instanceof SyntaxError); } // true",
    });
    const nested = { file: "n.ts", line: 1, code: "if (Math.random() > 2) {\n  console.log(1); // 1\n}" };
    await assert.rejects(runner.run(nested), /n\.ts:2: the line stating a value never ran/);
    await assert.rejects(
      runner.run({ ...nested, code: "{\n  [1, 2]; // [1, 3]\n}" }),
      /^Error: n\.ts:2: \[1\]: expected 3, got 2$/,
    );
    const log = { file: "l.ts", line: 1, code: "console.log(1, 2); // 1 3" };
    await assert.rejects(runner.run(log), /l\.ts:1 \(value 2\): value: expected 3, got 2/);
  });
});

describe("doc examples", () => {
  const examples = collectExamples(root);

  test("the examples type-check under strict, each as its own module", () => {
    // a probe with a known error checks in the same compilation that errors are found and named `file:line`
    const probe = {
      file: "probe.ts",
      line: 7,
      code: 'import { tensor } from "diffopt";\nconst n: number = tensor(1);',
    };
    const modules = [probe, ...examples].map((e) => ({ ...e, code: `${e.code}\nexport {};\n` }));
    // every error of the examples shows in the difference; the probe's must be the only one
    const probeError = "probe.ts:8: Type 'Tensor' is not assignable to type 'number'.";
    assert.deepEqual(typeCheckPrograms(modules, root), [probeError]);
  });

  for (const example of examples) {
    test(`${example.file}:${example.line}`, async () => {
      await runner.run(example);
    });
  }
});

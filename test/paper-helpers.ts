/**
 * Checks shared by the paper tests: an experiment's result is complete and serialisable, and an HTML/SVG text is
 * well-formed XML (every tag closed in order, attributes quoted, entities known).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Experiment, ExperimentResult } from "../paper/experiment.js";
import { quietContext, runExperiment } from "../paper/run.js";

/** Throws unless `text` is well-formed XML-ish markup (void HTML elements must be self-closed). */
export function assertWellFormed(text: string, what: string): void {
  const stack: string[] = [];
  const body = text.replace(/^<!DOCTYPE[^>]*>/i, "");
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|<([^>]*)>/g;
  for (const m of body.matchAll(tag)) {
    if (m[0].startsWith("<!--")) continue;
    assert.equal(m[5], undefined, `${what}: malformed tag ${JSON.stringify(m[0].slice(0, 80))} at ${m.index}`);
    const [, close, name, , selfClose] = m;
    if (selfClose) continue;
    if (close) {
      const open = stack.pop();
      assert.equal(open, name, `${what}: </${name}> closes <${open}> at ${m.index}`);
    } else stack.push(name!);
  }
  assert.deepEqual(stack, [], `${what}: unclosed elements`);
  for (const m of body.matchAll(/&([^;\s]*);?/g)) {
    assert.ok(/^&(amp|lt|gt|quot|#\d+);$/.test(m[0]), `${what}: bad entity ${m[0]}`);
  }
  const textOutsideTags = body.replace(/<[^>]*>/g, "");
  assert.ok(!textOutsideTags.includes("<") && !textOutsideTags.includes(">"), `${what}: unescaped < or >`);
}

/** The result has finite claims with statements, well-formed SVG figures, rectangular tables, and is JSON. */
export function assertWellFormedResult(result: ExperimentResult): void {
  assert.ok(result.claims.length > 0, "at least one claim");
  for (const c of result.claims) {
    assert.ok(c.id && c.statement, "claims have an id and a statement");
    assert.equal(typeof c.holds, "boolean");
    assert.ok(Number.isFinite(c.value), `${c.id}: value ${c.value} is finite`);
    assert.ok(c.bound === null || Number.isFinite(c.bound), `${c.id}: bound is a number or null`);
  }
  for (const f of result.figures) {
    assert.match(f.file, /^[\w-]+\.svg$/);
    assert.ok(f.svg.startsWith("<svg") && f.caption.length > 0, `${f.file}: an SVG document with a caption`);
    assertWellFormed(f.svg, f.file);
  }
  for (const t of result.tables) {
    for (const row of t.rows) assert.equal(row.length, t.columns.length, `table "${t.caption}": row width`);
  }
  const json = JSON.parse(JSON.stringify(result)) as ExperimentResult;
  assert.deepEqual(json.claims, result.claims, "claims survive JSON");
}

/**
 * Runs `experiment` in quick mode through the runner (`runExperiment`), writing its record and figures to
 * `$DIFFOPT_PAPER_OUT` when set — CI sets it to reports/ so that `npm run paper -- --index` and
 * `npm run test:report` check the records these tests produced instead of running the experiments again — or to
 * a temporary folder. Fails when the experiment throws; returns its result.
 */
export async function runQuick(experiment: Experiment): Promise<ExperimentResult> {
  const out = process.env["DIFFOPT_PAPER_OUT"] ?? mkdtempSync(join(tmpdir(), "diffopt-paper-"));
  const { record, result } = await runExperiment(experiment, quietContext(true), out);
  assert.equal(record.error, undefined, `${experiment.name} threw`);
  return result!;
}

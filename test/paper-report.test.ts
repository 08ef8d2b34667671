/**
 * The paper report: the HTML page is well-formed, self-contained and has every section (machine, date, summary,
 * and per experiment its description, claims with value and bound, figures inline, tables, settings, notes);
 * the figures of every kind are well-formed SVG; the runner's arguments are checked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chartSvg, particleSvg } from "../paper/plot.js";
import { currentMachine, makeRecord, renderReport, type ExperimentRecord } from "../paper/report.js";
import { parseArgs, writeIndex } from "../paper/run.js";
import { experiments } from "../paper/registry.js";
import type { Experiment, ExperimentResult } from "../paper/experiment.js";
import { assertWellFormed } from "./paper-helpers.js";

const chart = chartSvg({
  title: "Two panels <with> & escapes",
  panels: [
    {
      title: "log-log with band",
      xLabel: "p (features)",
      yLabel: "time (ms)",
      logX: true,
      logY: true,
      series: [
        { name: "a", x: [10, 100, 1000], y: [1, 10, 100], lo: [0.5, 5, 50], hi: [2, 20, 200], band: true },
        { name: "b", x: [10, 100, 1000], y: [2, 3, 4], lo: [1, 2, 3], hi: [3, 4, 5], dashed: true },
      ],
    },
    {
      title: "scatter",
      xLabel: "x",
      yLabel: "y",
      series: [{ name: "points", x: [-1, 0, 1], y: [1, 0, 1], line: false }],
    },
  ],
});
const particles = particleSvg({
  title: "discs & arrows",
  box: 4,
  discs: [
    { x: 0.2, y: 0.2, radius: 0.5 },
    { x: 2, y: 2, radius: 0.3, fill: "#fdd0a2" },
  ],
  arrows: [{ x: 2, y: 2, dx: 0.5, dy: -0.5 }],
  legend: ["legend line"],
});

const fakeExperiment: Experiment = {
  name: "jacobian-precision",
  title: "A title",
  description: "What the paper did & what we reproduce <here>.",
  run: async () => fakeResult,
};
const fakeResult: ExperimentResult = {
  settings: { n: 3, nested: { a: [1, 2] }, text: "x < y" },
  results: { r: 1 },
  timings: { totalMs: 12 },
  claims: [
    { id: "held-claim", statement: "a claim that held", holds: true, value: 0.5, bound: 1 },
    { id: "failed-claim", statement: "a claim that failed", holds: false, value: 2e-4, bound: 1e-5 },
  ],
  figures: [
    { file: "chart.svg", caption: "a chart", svg: chart },
    { file: "particles.svg", caption: "particles", svg: particles },
    { file: "images.svg", caption: "images", svg: particles },
  ],
  tables: [
    {
      caption: "a table",
      columns: ["k", "value"],
      rows: [
        [1, 0.25],
        ["two", 1e-9],
      ],
    },
  ],
  notes: ["a note with <markup> & ampersand"],
};

function record(): ExperimentRecord {
  return makeRecord(fakeExperiment, fakeResult, {
    quick: true,
    machine: currentMachine(),
    date: new Date("2026-01-02T03:04:05Z"),
    totalMs: 1234,
  });
}

test("every kind of figure is well-formed SVG with explicit fonts", () => {
  for (const [name, svg] of Object.entries({ chart, particles })) {
    assertWellFormed(svg, name);
    assert.ok(svg.includes('viewBox="0 0 '), `${name}: has a viewBox`);
    for (const m of svg.matchAll(/<text [^>]*>/g)) assert.match(m[0], /font-family="[^"]+" font-size="\d+"/);
  }
  assert.ok(chart.includes("&lt;with&gt; &amp; escapes"), "titles are escaped");
  assert.equal((chart.match(/<polygon /g) ?? []).length, 1, "one band");
  assert.ok((chart.match(/<line /g) ?? []).length > 6, "error bars and axes");
  assert.ok(particles.includes("marker-end="), "arrows");
});

test("the report page is well-formed, self-contained and has every section", () => {
  const r = record();
  const svgs = new Map(fakeResult.figures.map((f) => [f.file, f.svg]));
  const html = renderReport([r], (file) => svgs.get(file));
  assertWellFormed(html, "index.html");
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.ok(!/\b(src|href)="(https?:)?\/\//.test(html) && !html.includes("<script"), "no network, no script");
  for (const expected of [
    "Machine and date",
    currentMachine().cpu,
    process.version,
    "2026-01-02T03:04:05.000Z",
    '<section id="jacobian-precision">',
    "What the paper did &amp; what we reproduce &lt;here&gt;.",
    "a claim that held",
    '<span class="failed">FAILED</span>',
    "1 claim(s) failed",
    '<td class="num">2.0e-4</td>',
    '<td class="num">1.0e-5</td>',
    "a chart",
    "a table",
    "a note with &lt;markup&gt; &amp; ampersand",
    "<h3>Settings</h3>",
    "x &lt; y",
  ]) {
    assert.ok(html.includes(expected), `the page contains ${JSON.stringify(expected)}`);
  }
  assert.equal((html.match(/<figure>/g) ?? []).length, 3, "three inline figures");
  assert.equal((html.match(/<svg /g) ?? []).length, 3, "inline SVG");
});

test("writeIndex renders the records found in the folder, and says so when a figure is missing", () => {
  const dir = mkdtempSync(join(tmpdir(), "paper-report-"));
  try {
    writeFileSync(join(dir, "jacobian-precision.json"), JSON.stringify(record()));
    writeFileSync(join(dir, "chart.svg"), chart);
    writeFileSync(join(dir, "particles.svg"), particles);
    const html = readFileSync(writeIndex(dir), "utf8");
    assertWellFormed(html, "index.html");
    assert.ok(html.includes('<section id="jacobian-precision">'));
    assert.ok(html.includes("missing figure images.svg"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the runner's arguments: names, --quick, unknown names and options", () => {
  const all = experiments.map((e) => e.name);
  assert.ok(all.includes("jacobian-precision") && all.includes("svm-hpo") && all.includes("molecular-dynamics"));
  assert.deepEqual(parseArgs(["--quick"]).names, all);
  assert.deepEqual(parseArgs(["svm-hpo", "--quick"]), { ...parseArgs(["--quick"]), names: ["svm-hpo"] });
  assert.equal(parseArgs([]).quick, false);
  assert.equal(parseArgs(["--index"]).indexOnly, true);
  assert.equal(parseArgs([]).indexOnly, false);
  assert.throws(() => parseArgs(["no-such"]), /unknown experiment "no-such"; known: /);
  assert.throws(() => parseArgs(["--fast"]), /unknown option --fast/);
});

/**
 * The paper report: what `npm run paper` writes under `reports/`.
 *
 * - `reports/<name>.json`: one experiment's record (settings, results, timings, claims, notes, tables, the
 *   figures' files and captions) plus what the runner adds: the mode, the machine, the date and the total time.
 *   Anyone can re-check a claim from it.
 * - `reports/<figure>.svg`: the figures.
 * - `reports/index.html`: one self-contained page (inline SVG and CSS, no script, no network) rendering every
 *   record found in `reports/` for the registered experiments: what a reviewer reads. It is also well-formed XML
 *   (every tag closed, text escaped), which the tests check.
 */
import { cpus, totalmem, platform, release, arch } from "node:os";
import { claimFails, type Claim, type Experiment, type ExperimentResult, type Table } from "./experiment.js";
import { escapeXml, formatNumber } from "./plot.js";

/** The machine a run happened on. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

/** The machine this process runs on. */
export function currentMachine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
  };
}

/** What `reports/<name>.json` holds. */
export interface ExperimentRecord {
  name: string;
  title: string;
  description: string;
  /** Quick (CI-sized) or full mode. */
  mode: "quick" | "full";
  /** ISO date and time (UTC) at which the run finished. */
  date: string;
  machine: Machine;
  /** Wall-clock time of the whole experiment in milliseconds. */
  totalMs: number;
  settings: Record<string, unknown>;
  results: Record<string, unknown>;
  timings: Record<string, unknown>;
  claims: Claim[];
  notes: string[];
  tables: Table[];
  /** The figures' files under reports/ and captions (the SVG itself is in the file). */
  figures: { file: string; caption: string }[];
  /** When the experiment threw: its message (and the claims list records the failure). */
  error?: string;
}

/** The record of one run of `experiment`. */
export function makeRecord(
  experiment: Experiment,
  result: ExperimentResult,
  meta: { quick: boolean; machine: Machine; date: Date; totalMs: number },
): ExperimentRecord {
  return {
    name: experiment.name,
    title: experiment.title,
    description: experiment.description,
    mode: meta.quick ? "quick" : "full",
    date: meta.date.toISOString(),
    machine: meta.machine,
    totalMs: meta.totalMs,
    settings: result.settings,
    results: result.results,
    timings: result.timings,
    claims: result.claims,
    notes: result.notes,
    tables: result.tables,
    figures: result.figures.map((f) => ({ file: f.file, caption: f.caption })),
  };
}

/** The record of a run that threw: one failed claim that says so. */
export function failedRecord(
  experiment: Experiment,
  error: unknown,
  meta: { quick: boolean; machine: Machine; date: Date; totalMs: number },
): ExperimentRecord {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const record = makeRecord(
    experiment,
    {
      settings: {},
      results: {},
      timings: {},
      claims: [{ id: "completed", statement: "the experiment ran to completion", holds: false, value: 0, bound: null }],
      figures: [],
      tables: [],
      notes: [`The experiment failed: ${message}`],
    },
    meta,
  );
  return { ...record, error: message };
}

/** A claim's measured value and bound as text. */
export function claimNumbers(c: Claim): { value: string; bound: string } {
  return { value: formatNumber(c.value), bound: c.bound === null ? "—" : formatNumber(c.bound) };
}

const CSS = `
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 15px; line-height: 1.45; color: #111;
  max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin: 36px 0 6px; padding-top: 12px; border-top: 2px solid #333; }
h3 { font-size: 16px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.held { color: #006400; font-weight: bold; }
.failed { color: #b00000; font-weight: bold; }
.meta { color: #444; font-size: 13px; }
figure { margin: 10px 0 18px; }
figure svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 13px; color: #333; margin-top: 4px; max-width: 1000px; }
pre { background: #f6f6f6; padding: 8px; font-size: 12px; overflow-x: auto; }
ul.notes li { margin-bottom: 4px; }
nav ul { columns: 2; }
`;

function td(content: string | number, numeric = typeof content === "number"): string {
  return numeric ? `<td class="num">${escapeXml(cell(content))}</td>` : `<td>${escapeXml(cell(content))}</td>`;
}

function cell(v: string | number): string {
  return typeof v === "number" ? formatNumber(v) : v;
}

function tableHtml(t: Table): string {
  const head = `<tr>${t.columns.map((c) => `<th>${escapeXml(c)}</th>`).join("")}</tr>`;
  const rows = t.rows.map((row) => `<tr>${row.map((v) => td(v)).join("")}</tr>`).join("\n");
  return `<table><caption>${escapeXml(t.caption)}</caption>\n${head}\n${rows}\n</table>`;
}

/** held, FAILED, or, for a timing claim of a quick run, a failure that is reported but not asserted. */
function verdictHtml(c: Claim, quick: boolean): string {
  if (c.holds) return `<span class="held">held</span>`;
  if (!claimFails(c, quick)) return `<span class="failed">not held</span> (timing, quick mode: not asserted)`;
  return `<span class="failed">FAILED</span>`;
}

function claimsHtml(claims: Claim[], quick: boolean): string {
  const rows = claims.map((c) => {
    const n = claimNumbers(c);
    const verdict = verdictHtml(c, quick);
    return `<tr><td>${verdict}</td><td>${escapeXml(c.statement)}</td>${td(n.value, true)}${td(n.bound, true)}<td><code>${escapeXml(c.id)}</code></td></tr>`;
  });
  return `<table class="claims"><tr><th>verdict</th><th>claim</th><th>value</th><th>bound</th><th>id</th></tr>\n${rows.join("\n")}\n</table>`;
}

/** Settings as a two-column table (nested values as compact JSON). */
function settingsHtml(settings: Record<string, unknown>): string {
  const rows = Object.entries(settings).map(([k, v]) => {
    const value = typeof v === "string" ? v : JSON.stringify(v);
    return `<tr><td><code>${escapeXml(k)}</code></td><td>${escapeXml(value ?? "undefined")}</td></tr>`;
  });
  return `<table><tr><th>setting</th><th>value</th></tr>\n${rows.join("\n")}\n</table>`;
}

/** An SVG document inlined into the page (its XML prolog, if any, removed). */
function inlineSvg(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, "");
}

/** The HTML section of one record, with its figures' SVG (by file name). */
export function sectionHtml(record: ExperimentRecord, figureSvg: (file: string) => string | undefined): string {
  const held = record.claims.filter((c) => c.holds).length;
  const parts = [
    `<section id="${escapeXml(record.name)}">`,
    `<h2>${escapeXml(record.title)}</h2>`,
    `<p class="meta"><code>${escapeXml(record.name)}</code> · ${record.mode} mode · ${escapeXml(record.date)} · ${(record.totalMs / 1000).toFixed(1)} s · ${held}/${record.claims.length} claims held</p>`,
    `<p>${escapeXml(record.description)}</p>`,
    `<h3>Claims</h3>`,
    claimsHtml(record.claims, record.mode === "quick"),
  ];
  if (record.figures.length) {
    parts.push(`<h3>Figures</h3>`);
    for (const f of record.figures) {
      const svg = figureSvg(f.file);
      parts.push(
        `<figure>${svg === undefined ? `<p class="failed">missing figure ${escapeXml(f.file)}</p>` : inlineSvg(svg)}<figcaption>${escapeXml(f.caption)} (<code>reports/${escapeXml(f.file)}</code>)</figcaption></figure>`,
      );
    }
  }
  if (record.tables.length) {
    parts.push(`<h3>Tables</h3>`);
    for (const t of record.tables) parts.push(tableHtml(t));
  }
  parts.push(`<h3>Settings</h3>`, settingsHtml(record.settings));
  if (record.notes.length) {
    parts.push(
      `<h3>Notes</h3>`,
      `<ul class="notes">${record.notes.map((n) => `<li>${escapeXml(n)}</li>`).join("")}</ul>`,
    );
  }
  if (record.error !== undefined) parts.push(`<h3>Error</h3>`, `<pre>${escapeXml(record.error)}</pre>`);
  parts.push(`<h3>Timings (ms)</h3>`, `<pre>${escapeXml(JSON.stringify(record.timings, null, 1))}</pre>`);
  parts.push(`</section>`);
  return parts.join("\n");
}

/** The whole page for `records` (in order). */
export function renderReport(records: ExperimentRecord[], figureSvg: (file: string) => string | undefined): string {
  const machines = [...new Set(records.map((r) => JSON.stringify(r.machine)))].map((m) => JSON.parse(m) as Machine);
  const summary = records.flatMap((r) =>
    r.claims.map((c) => {
      const n = claimNumbers(c);
      return `<tr><td><a href="#${escapeXml(r.name)}">${escapeXml(r.name)}</a></td><td>${verdictHtml(c, r.mode === "quick")}</td><td>${escapeXml(c.statement)}</td>${td(n.value, true)}${td(n.bound, true)}</tr>`;
    }),
  );
  const failed = records.reduce((a, r) => a + r.claims.filter((c) => claimFails(c, r.mode === "quick")).length, 0);
  const dates = records.map((r) => r.date).sort();
  return [
    `<!DOCTYPE html>`,
    `<html xmlns="http://www.w3.org/1999/xhtml" lang="en">`,
    `<head>`,
    `<meta charset="utf-8"/>`,
    `<meta name="viewport" content="width=device-width, initial-scale=1"/>`,
    `<title>diffopt: the paper's experiments</title>`,
    `<style>${CSS}</style>`,
    `</head>`,
    `<body>`,
    `<h1>diffopt: the experiments of "Efficient and Modular Implicit Differentiation"</h1>`,
    `<p>Blondel et al., NeurIPS 2022 (arXiv 2105.15183), reproduced with diffopt. Generated by <code>npm run paper</code>; every claim below is evaluated from the numbers of the run shown.</p>`,
    `<h3>Machine and date</h3>`,
    `<table><tr><th>CPU</th><th>cores</th><th>memory</th><th>OS</th><th>Node</th></tr>`,
    ...machines.map(
      (m) =>
        `<tr><td>${escapeXml(m.cpu)}</td>${td(m.cores)}<td>${m.memoryGiB} GiB</td><td>${escapeXml(m.os)}</td><td>${escapeXml(m.node)}</td></tr>`,
    ),
    `</table>`,
    `<p class="meta">Runs dated ${escapeXml(dates[0] ?? "—")}${dates.length > 1 ? ` to ${escapeXml(dates.at(-1)!)}` : ""} (UTC).</p>`,
    `<h3>Summary: ${failed === 0 ? `<span class="held">all claims held</span>` : `<span class="failed">${failed} claim(s) failed</span>`}</h3>`,
    `<table><tr><th>experiment</th><th>verdict</th><th>claim</th><th>value</th><th>bound</th></tr>`,
    ...summary,
    `</table>`,
    `<nav><ul>${records.map((r) => `<li><a href="#${escapeXml(r.name)}">${escapeXml(r.title)}</a> (${r.mode})</li>`).join("")}</ul></nav>`,
    ...records.map((r) => sectionHtml(r, figureSvg)),
    `</body>`,
    `</html>`,
    ``,
  ].join("\n");
}

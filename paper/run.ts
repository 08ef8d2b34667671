/**
 * The paper runner: `npm run paper -- [name...] [--quick] [--out dir]`, or `npm run paper -- --index [--out dir]`
 * to rewrite only `index.html` from the records already in the folder (CI's `npm test` writes the quick records).
 *
 * Runs the named experiments (all registered ones by default) one after the other, each with a progress bar on
 * its long loops, and writes `reports/<name>.json`, the figures and `reports/index.html` (see ./report.ts). The
 * page covers every registered experiment that has a record in the folder, so running one experiment updates
 * its section and keeps the others. An experiment that throws is reported as a failed claim and the others
 * still run. Exits with code 1 when a claim failed (with a summary on stderr), 2 on a usage error.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { claimFails, type Experiment, type ExperimentContext, type ExperimentResult } from "./experiment.js";
import { createProgress, formatDuration } from "./progress.js";
import {
  claimNumbers,
  currentMachine,
  failedRecord,
  makeRecord,
  renderReport,
  type ExperimentRecord,
  type Machine,
} from "./report.js";
import { experiments } from "./registry.js";

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Options of {@link runPaper}. */
export interface RunOptions {
  names: string[];
  quick: boolean;
  /** Output folder (default `reports/` at the repository root). */
  out: string;
  /** Where progress bars and logs go (default process.stderr); bars draw only if it is a TTY. */
  stream?: NodeJS.WriteStream | { isTTY?: boolean; columns?: number; write(s: string): unknown };
}

/** The context an experiment runs in: progress bars and logs on `stream` (a TTY), quiet otherwise. */
export function makeContext(quick: boolean, stream: RunOptions["stream"] = process.stderr): ExperimentContext {
  const verbose = stream.isTTY === true || process.env["DIFFOPT_PAPER_VERBOSE"] === "1";
  return {
    quick,
    root: repoRoot,
    progress: (label, total) => createProgress(label, total, { stream }),
    log: (message) => {
      if (verbose) stream.write(`${message}\n`);
    },
  };
}

/** A context that draws and prints nothing (for tests). */
export function quietContext(quick = true): ExperimentContext {
  return makeContext(quick, { isTTY: false, write: () => true });
}

/** Reads the `--flag` arguments; throws a usage message on an unknown name or flag. */
export function parseArgs(argv: string[]): { names: string[]; quick: boolean; out: string; indexOnly: boolean } {
  const names: string[] = [];
  let quick = false;
  let indexOnly = false;
  let out = join(repoRoot, "reports");
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") quick = true;
    else if (a === "--index") indexOnly = true;
    else if (a === "--out") out = resolve(argv[++i] ?? "");
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else names.push(a);
  }
  const known = experiments.map((e) => e.name);
  for (const n of names) {
    if (!known.includes(n)) throw new Error(`unknown experiment "${n}"; known: ${known.join(", ")}`);
  }
  return { names: names.length ? names : known, quick, out, indexOnly };
}

/**
 * Runs one experiment and writes `<out>/<name>.json` and its figures (not the index); returns its record and,
 * unless it threw, its result. An experiment that throws gets a record with one failed claim saying so.
 */
export async function runExperiment(
  experiment: Experiment,
  ctx: ExperimentContext,
  out: string,
  machine: Machine = currentMachine(),
): Promise<{ record: ExperimentRecord; result?: ExperimentResult }> {
  mkdirSync(out, { recursive: true });
  const start = performance.now();
  const meta = () => ({ quick: ctx.quick, machine, date: new Date(), totalMs: performance.now() - start });
  let record: ExperimentRecord;
  let result: ExperimentResult | undefined;
  try {
    result = await experiment.run(ctx);
    record = makeRecord(experiment, result, meta());
    for (const f of result.figures) writeFileSync(join(out, f.file), f.svg);
  } catch (e) {
    record = failedRecord(experiment, e, meta());
    ctx.log(`${experiment.name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  writeFileSync(join(out, `${experiment.name}.json`), JSON.stringify(record, null, 1) + "\n");
  return result === undefined ? { record } : { record, result };
}

/** Runs the experiments and writes the reports; returns the records of this run. */
export async function runPaper(opts: RunOptions): Promise<ExperimentRecord[]> {
  const stream = opts.stream ?? process.stderr;
  const ctx = makeContext(opts.quick, stream);
  const machine = currentMachine();
  const records: ExperimentRecord[] = [];
  for (const name of opts.names) {
    const experiment = experiments.find((e) => e.name === name)!;
    ctx.log(`\n== ${experiment.title} (${opts.quick ? "quick" : "full"} mode)`);
    const { record } = await runExperiment(experiment, ctx, opts.out, machine);
    if (record.error !== undefined) stream.write(`${experiment.name} failed: ${record.error}\n`);
    ctx.log(`${experiment.name}: ${formatDuration(record.totalMs)}`);
    records.push(record);
  }
  writeIndex(opts.out);
  return records;
}

/** Writes `index.html` from every registered experiment's record present in `out`. */
export function writeIndex(out: string): string {
  const found = experiments
    .map((e) => join(out, `${e.name}.json`))
    .filter((p) => existsSync(p))
    .map((p) => JSON.parse(readFileSync(p, "utf8")) as ExperimentRecord);
  const svg = (file: string) => {
    const p = join(out, file);
    return existsSync(p) ? readFileSync(p, "utf8") : undefined;
  };
  const path = join(out, "index.html");
  writeFileSync(path, renderReport(found, svg));
  return path;
}

/** One line per claim, for the terminal. */
export function claimSummary(records: ExperimentRecord[]): string {
  const lines: string[] = [];
  for (const r of records) {
    for (const c of r.claims) {
      const n = claimNumbers(c);
      lines.push(`${c.holds ? "held  " : "FAILED"} ${r.name}/${c.id}: value ${n.value}, bound ${n.bound}`);
    }
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(
      `paper: ${(e as Error).message}\nusage: npm run paper -- [name...] [--quick] [--out dir] | --index [--out dir]\n`,
    );
    process.exitCode = 2;
    return;
  }
  if (args.indexOnly) {
    process.stdout.write(`Report: ${writeIndex(args.out)}\n`);
    return;
  }
  const records = await runPaper(args);
  const failed = records.flatMap((r) =>
    r.claims.filter((c) => claimFails(c, r.mode === "quick")).map((c) => `${r.name}/${c.id}`),
  );
  process.stdout.write(`${claimSummary(records)}\n`);
  process.stdout.write(`Report: ${join(args.out, "index.html")}\n`);
  if (failed.length) {
    process.stderr.write(`paper: ${failed.length} claim(s) failed: ${failed.join(", ")}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();

/**
 * Benchmark helpers: a timer that reports the median time per call, and a plain-text table printer.
 */
import { performance } from "node:perf_hooks";

/** Options of {@link timeIt}. */
export interface TimeOptions {
  /** Minimum total measured time in seconds (default 0.2). */
  minTime?: number;
  /** Minimum number of timed batches (default 5). */
  minBatches?: number;
  /** Warm-up time in seconds before measuring (default 0.05), so that the JIT has compiled the hot paths. */
  warmup?: number;
  /** The clock, in seconds (default wall time: `performance.now()`); see {@link cpuClock}. */
  clock?: () => number;
}

/**
 * CPU time of this process in seconds (user + system, every thread): on a shared, oversubscribed machine the time
 * a single-threaded computation is actually run, where wall time also counts the time it waits for a core.
 */
export const cpuClock = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const wallClock = (): number => performance.now() / 1000;

/** Result of {@link timeIt}: the median and the spread of the per-call time over batches, in seconds. */
export interface Timing {
  median: number;
  min: number;
  max: number;
  /** Total number of calls measured. */
  calls: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Times `fn`: warms it up, picks a batch size so one batch takes about 20 ms (or one call when a call is slower),
 * then runs batches until at least `minTime` seconds and `minBatches` batches have been measured. Returns the
 * median per-call time over batches.
 */
export function timeIt(fn: () => unknown, opts: TimeOptions = {}): Timing {
  const minTime = opts.minTime ?? 0.2;
  const minBatches = opts.minBatches ?? 5;
  const warmup = opts.warmup ?? 0.05;
  const now = opts.clock ?? wallClock;
  gc?.();
  let calls = 0;
  const t0 = now();
  do {
    fn();
    calls++;
  } while (now() - t0 < warmup || calls < 2);
  const perCall = (now() - t0) / calls;
  const batch = Math.max(1, Math.round(0.02 / perCall));
  const samples: number[] = [];
  let total = 0;
  while (total < minTime || samples.length < minBatches) {
    const start = now();
    for (let i = 0; i < batch; i++) fn();
    const elapsed = now() - start;
    total += elapsed;
    samples.push(elapsed / batch);
  }
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  const median = samples.length % 2 === 1 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  return { median, min: samples[0]!, max: samples[samples.length - 1]!, calls: samples.length * batch };
}

/** A duration in seconds with a readable unit: `1.23 µs`, `4.56 ms`, `1.20 s`. */
export function formatTime(seconds: number): string {
  if (seconds < 1e-6) return `${(seconds * 1e9).toFixed(1)} ns`;
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(2)} µs`;
  if (seconds < 1) return `${(seconds * 1e3).toFixed(2)} ms`;
  return `${seconds.toFixed(2)} s`;
}

/** Prints `rows` under `title` as an aligned table; numbers (with an optional unit or ×) are right-aligned. */
export function printTable(title: string, header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => (r[j] ?? "").length)));
  const numeric = /^[-+]?[\d.]+(e[-+]?\d+)?( ns| µs| ms| s|×)?$/;
  const cell = (s: string, j: number) => (numeric.test(s) ? s.padStart(widths[j]!) : s.padEnd(widths[j]!));
  const line = (r: readonly string[]) => `  ${header.map((_, j) => cell(r[j] ?? "", j)).join("  ")}`.trimEnd();
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(`  ${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const r of rows) console.log(line(r));
}

/** "ok" when `value` meets the target, "MISS" otherwise. */
export function verdict(ok: boolean): string {
  return ok ? "ok" : "MISS";
}

/**
 * Progress bars for the paper's long loops. A reviewer who starts `npm run paper` should see that something is
 * happening and how long it will take; a CI log or a test should stay clean. So a bar draws only on a TTY (one
 * line, redrawn in place with a carriage return, throttled so that fast loops do not flood the terminal) and is
 * silent on anything else (a pipe, a file, a test's fake stream with `isTTY` false).
 *
 * Line format: `label [#########.........] 12/40  elapsed 3.1s  ETA 7.2s  message`.
 */
import type { Progress } from "./experiment.js";

/** The part of a stream a bar needs: `process.stderr` fits, and so does a fake in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Where to draw (default `process.stderr`). Nothing is written unless `stream.isTTY` is true. */
  stream?: ProgressStream;
  /** The clock in milliseconds (default `performance.now`); tests pass a fake one. */
  now?: () => number;
  /** Smallest interval between two redraws in milliseconds (default 100); the first and last draws always happen. */
  minIntervalMs?: number;
  /** Width of the bar in characters (default 24). */
  width?: number;
}

/** "850ms", "12.3s", "4m05s", "1h02m": short durations for a one-line bar. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s - 60 * m)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m - 60 * h).padStart(2, "0")}m`;
}

/**
 * The text of a bar after `count` of `total` steps, `elapsed` ms since it started. The ETA extrapolates the mean
 * time per step so far; it is "?" before the first step.
 */
export function progressLine(
  label: string,
  count: number,
  total: number,
  elapsed: number,
  message = "",
  width = 24,
): string {
  const fraction = total > 0 ? Math.min(1, count / total) : 1;
  const filled = Math.round(fraction * width);
  const bar = "#".repeat(filled) + ".".repeat(width - filled);
  const eta = count > 0 ? formatDuration((elapsed / count) * Math.max(0, total - count)) : "?";
  const parts = [`${label} [${bar}] ${count}/${total}`, `elapsed ${formatDuration(elapsed)}`, `ETA ${eta}`];
  if (message) parts.push(message);
  return parts.join("  ");
}

/**
 * A progress bar for a loop of `total` steps (see the module notes). `tick(n, message)` advances it, `done()`
 * draws the final line and a newline. Calls after `done()` are ignored.
 */
export function createProgress(label: string, total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const minInterval = opts.minIntervalMs ?? 100;
  const width = opts.width ?? 24;
  const tty = stream.isTTY === true;
  const start = now();
  let count = 0;
  let message = "";
  let lastDraw = -Infinity;
  let finished = false;
  const draw = (final: boolean) => {
    if (!tty) return;
    const t = now();
    if (!final && t - lastDraw < minInterval) return;
    lastDraw = t;
    let line = progressLine(label, count, total, t - start, message, width);
    const columns = stream.columns ?? 0;
    if (columns > 0 && line.length >= columns) line = line.slice(0, columns - 1);
    // \r back to the line start, \x1b[K clears what a longer previous line left behind.
    stream.write(`\r${line}\x1b[K${final ? "\n" : ""}`);
  };
  draw(false); // the empty bar, so that a slow first step is visible
  return {
    tick(n = 1, msg?: string) {
      if (finished) return;
      count += n;
      if (msg !== undefined) message = msg;
      draw(false);
    },
    done() {
      if (finished) return;
      finished = true;
      draw(true);
    },
  };
}

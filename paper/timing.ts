/**
 * CPU-time measurement for the paper's timing claims. CPU time (user + system of this process, from
 * `process.cpuUsage`) rather than wall-clock time, because the machine may be shared: other processes then slow
 * the wall clock but not our CPU time. A garbage collection runs before each repetition when Node was started
 * with --expose-gc (`npm run paper` is), so that one repetition does not pay for the garbage of the previous one.
 */

/** Repeated measurements of one quantity in milliseconds, with the median and a central interval. */
export interface TimingSummary {
  samples: number[];
  median: number;
  /** The 5% and 95% quantiles of the samples (a 90% interval; the min and max for fewer than 10 samples). */
  lo: number;
  hi: number;
}

/** The q-quantile of sorted values (linear interpolation between order statistics). */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < sorted.length ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
}

/** Median and 90% interval of `samples`. */
export function summarize(samples: number[]): TimingSummary {
  const s = [...samples].sort((a, b) => a - b);
  return { samples, median: quantile(s, 0.5), lo: quantile(s, 0.05), hi: quantile(s, 0.95) };
}

/** CPU milliseconds spent in `fn` (user + system), after a garbage collection when available. */
export function cpuTime<T>(fn: () => T): { value: T; ms: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const start = process.cpuUsage();
  const value = fn();
  const used = process.cpuUsage(start);
  return { value, ms: (used.user + used.system) / 1000 };
}

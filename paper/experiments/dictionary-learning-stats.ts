/**
 * The statistics of the dictionary-learning experiment: the area under the ROC curve by ranks, and a mean with
 * its Student-t confidence interval over random splits.
 */
import { ValueError } from "../../src/index.js";

/**
 * ROC AUC of `scores` for binary `labels` (1 positive, 0 negative), as the Mann–Whitney statistic: the
 * probability that a random positive scores above a random negative, ties counting one half. Computed from the
 * ranks of the scores (tied scores get their average rank): AUC = (R₊ − n₊(n₊ + 1)/2) / (n₊ n₋), with R₊ the
 * sum of the positives' ranks. O(n log n).
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new ValueError(`auc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPositive = 0;
  let positives = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1; // ranks i+1 … j+1
    for (let t = i; t <= j; t++) {
      const label = labels[order[t]!];
      if (label !== 0 && label !== 1) throw new ValueError(`auc: labels must be 0 or 1, got ${label}`);
      if (label === 1) {
        rankSumPositive += averageRank;
        positives++;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0)
    throw new ValueError(`auc: needs both classes, got ${positives} positives and ${negatives} negatives`);
  return (rankSumPositive - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** t_{0.975} quantiles of Student's t with 1 … 30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * The 0.975 quantile of Student's t with `df` degrees of freedom: tabulated up to 30, then the Cornish–Fisher
 * expansion around the normal quantile (error below 1e-4 there).
 */
export function studentT975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new ValueError(`studentT975: df must be a positive integer, got ${df}`);
  if (df <= T975.length) return T975[df - 1]!;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2);
}

/** Mean of `xs` and the half-width of its 95% confidence interval (t_{0.975, n−1} · s / √n; 0 for one value). */
export function meanInterval95(xs: readonly number[]): { mean: number; halfWidth: number } {
  const n = xs.length;
  if (n === 0) throw new ValueError("meanInterval95: needs at least one value");
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, halfWidth: 0 };
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  return { mean, halfWidth: (studentT975(n - 1) * Math.sqrt(variance)) / Math.sqrt(n) };
}

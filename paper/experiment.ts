/**
 * The contract between the paper runner (`npm run paper`) and each experiment of the paper "Efficient and Modular
 * Implicit Differentiation" (Blondel et al., NeurIPS 2022). An experiment is a module under `paper/experiments/`
 * exporting an `Experiment`; the runner gives it a context (quick or full mode, progress bars, an output folder),
 * and writes what it returns to `reports/<name>.json`, its figures next to it and a section of `reports/index.html`.
 *
 * Experiments use the public API only (`import … from "../../src/index.js"`), are seeded, and evaluate every claim
 * from their own measurements.
 */

/** A statement of the paper checked against this run's numbers. */
export interface Claim {
  /** Short stable identifier, e.g. "implicit-within-bound". */
  id: string;
  /** The statement in words, e.g. "the implicit Jacobian error is within the Theorem 1 bound at every iterate". */
  statement: string;
  /** Whether it held in this run. */
  holds: boolean;
  /** The measured quantity the claim is about (e.g. the worst ratio error / bound). */
  value: number;
  /** The threshold it is compared with, or null when the claim is a comparison without a fixed bound. */
  bound: number | null;
  /**
   * A claim about speed (CPU time). Measured and reported in every mode, but in quick mode — CI's, on a shared
   * machine and at small sizes, where timings are noise — a failed timing claim does not fail the run or the tests.
   */
  timing?: boolean;
}

/** Whether a claim counts as failed: it did not hold, and it is not a timing claim of a quick run. */
export function claimFails(claim: Claim, quick: boolean): boolean {
  return !claim.holds && !(quick && claim.timing === true);
}

/** A figure: an SVG document written to `reports/<file>` and inlined in the HTML report. */
export interface Figure {
  /** File name under reports/, e.g. "jacobian-precision.svg". */
  file: string;
  /** Caption shown under the figure. */
  caption: string;
  /** The complete SVG document. */
  svg: string;
}

/** A table for the HTML report. */
export interface Table {
  caption: string;
  columns: string[];
  rows: (string | number)[][];
}

/** What an experiment returns; the runner adds the machine, the date and the total time. */
export interface ExperimentResult {
  /** Settings actually used (sizes, seeds, tolerances, data source…). */
  settings: Record<string, unknown>;
  /** Measured numbers (free-form, JSON-serialisable). */
  results: Record<string, unknown>;
  /** Timings in milliseconds (free-form, JSON-serialisable). */
  timings: Record<string, unknown>;
  claims: Claim[];
  figures: Figure[];
  tables: Table[];
  /** Remarks for the reader (data source fallbacks, deviations from the paper). */
  notes: string[];
}

/** A progress bar for one long loop. Draws on a TTY (label, bar, count, elapsed, ETA); silent otherwise. */
export interface Progress {
  /** Advance by `n` (default 1) and optionally update the trailing message (e.g. the current loss). */
  tick(n?: number, message?: string): void;
  /** Finish the bar (prints the final line on a TTY). */
  done(): void;
}

/** What the runner gives an experiment. */
export interface ExperimentContext {
  /** Quick mode: the CI-sized settings (all experiments together under 5 minutes on 2 cores). */
  quick: boolean;
  /** Absolute path of the repository root (for data/ files). */
  root: string;
  /** Creates a progress bar for a loop of `total` steps. */
  progress(label: string, total: number): Progress;
  /** A line of log output (to stderr on a TTY, silent otherwise unless DIFFOPT_PAPER_VERBOSE=1). */
  log(message: string): void;
}

/** One experiment of the paper. */
export interface Experiment {
  /** Name used on the command line and for `reports/<name>.json`, e.g. "jacobian-precision". */
  name: string;
  /** Title in the report, e.g. "Jacobian precision (Figure 3, Theorem 1)". */
  title: string;
  /** One paragraph: what the paper did, what is reproduced here. */
  description: string;
  run(ctx: ExperimentContext): Promise<ExperimentResult>;
}

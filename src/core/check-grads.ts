/**
 * `checkGrads`: derivatives checked against central finite differences, for users writing custom rules
 * (`customJvp`, `customVjp`) and optimality conditions (`customRoot`), in the spirit of PyTorch's `gradcheck` and
 * `gradgradcheck`, but in float64, in forward and reverse mode, to any order, on pytrees.
 *
 * Why it works: a derivative of order k computed by autodiff is compared with the central difference of the
 * derivative of order k − 1 computed by the same mode. So order 1 checks the rules against the function's
 * values, and order 2 checks the derivative of the derivative rules (what a Hessian or a hypergradient needs)
 * against the order-1 derivatives, which order 1 has already checked against the values. The error of a central
 * difference with step h is O(h²) (truncation) + O(δ/h) (rounding δ of the values), about 1e-10 relative at the
 * default h = 1e-6 for a smooth function of size one: far below the default tolerance, far above a wrong rule.
 *
 * All arguments' leaves are flattened into one vector v and all output leaves into one vector, so that the
 * derivative of order k is one array [m, n, …, n]; a mismatch is reported with the pytree paths of its output
 * and input entries.
 *
 * @module
 */
import { DiffoptError, ValueError } from "./errors.js";
import { checkFunction, checkOptions } from "./options.js";
import { Tensor } from "./tensor.js";
import { jacfwd, jacrev, stopGradient, type TreeFn } from "./transforms.js";
import { flatten, unflatten, type Tree, type TreeDef } from "./tree.js";
import { concatenate, split } from "./ops/join.js";
import { reshape } from "./ops/shape.js";

/** A differentiation mode `checkGrads` can check: `"fwd"` (`jacfwd`, JVPs) or `"rev"` (`jacrev`, VJPs). */
export type GradCheckMode = "fwd" | "rev";

/** Options of {@link checkGrads}. */
export interface CheckGradsOptions {
  /** Highest derivative order checked; every order from 1 to `order` is checked (default 1). */
  order?: number;
  /** Modes checked (default both, `["fwd", "rev"]`); order k uses k nested transforms of the mode. */
  modes?: readonly GradCheckMode[];
  /** Step h of the central differences (f(x + h) − f(x − h)) / 2h, absolute (default 1e-6). */
  eps?: number;
  /** Relative tolerance: an entry passes when |autodiff − numeric| ≤ atol + rtol·|numeric| (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-8). */
  atol?: number;
  /** Arguments differentiated (default: all of them). */
  argnums?: number | readonly number[];
  /** Throw a {@link GradCheckError} carrying the report when a check fails, instead of returning it (default false). */
  throwOnFailure?: boolean;
}

/** One entry of a derivative: where it is, its two values and how far apart they are. */
export interface GradCheckEntry {
  /** The derivative order (1 for the Jacobian) and the mode that computed it. */
  order: number;
  mode: GradCheckMode;
  /** The output entry, as a pytree path and element index: `out.loss`, `out[1] [0, 2]`. */
  output: string;
  /** The input entry of each differentiation, outermost first: `args[0].w [1]`. */
  inputs: string[];
  /** The derivative computed by autodiff and by central differences. */
  analytic: number;
  numeric: number;
  /** |analytic − numeric| and that over |numeric| (Infinity for a non-finite value). */
  absError: number;
  relError: number;
}

/** What {@link checkGrads} found. */
export interface GradCheckReport {
  /** True when every entry of every order and mode is within the tolerance. */
  ok: boolean;
  /**
   * The largest absolute and relative errors over all entries checked (the relative error of an entry whose
   * numeric value is near 0 is large however good the derivative: `ok` uses atol + rtol·|numeric| instead).
   */
  maxAbsError: number;
  maxRelError: number;
  /** The entry furthest outside (or closest to) the tolerance: largest |error| / (atol + rtol·|numeric|). */
  worst: GradCheckEntry | null;
  /** How many derivative entries were compared. */
  checked: number;
}

/**
 * A derivative disagrees with finite differences (thrown by {@link checkGrads} with `throwOnFailure`).
 *
 * @example
 * ```ts
 * import { checkGrads, customJvp, sin, cos, mul, tensor, GradCheckError, type Tensor } from "diffopt";
 * // a rule with a sign error
 * const f = customJvp((x: Tensor) => sin(x), ([x], [t]) => [sin(x), mul(cos(x), t).neg()]);
 * try { checkGrads(f, [tensor(1)], { throwOnFailure: true }); } catch (e) { console.log(e instanceof GradCheckError); } // true
 * ```
 */
export class GradCheckError extends DiffoptError {
  /** The report of the failed check. */
  readonly report: GradCheckReport;
  constructor(message: string, report: GradCheckReport) {
    super(message);
    this.report = report;
  }
}

const OPTION_KEYS = [
  "order",
  "modes",
  "eps",
  "rtol",
  "atol",
  "argnums",
  "throwOnFailure",
] as const satisfies readonly (keyof CheckGradsOptions)[];

/** Pytree paths of the leaves of `def`, depth-first, under `prefix`. */
function leafPaths(def: TreeDef, prefix: string, out: string[] = []): string[] {
  switch (def.kind) {
    case "leaf":
      out.push(prefix);
      break;
    case "none":
      break;
    case "array":
      def.children.forEach((c, i) => leafPaths(c, `${prefix}[${i}]`, out));
      break;
    case "object":
      def.children.forEach((c, i) => leafPaths(c, `${prefix}.${def.keys[i]}`, out));
      break;
  }
  return out;
}

/** Names the entries of a flat vector made of leaves with `paths` and `shapes`: `path [i, j]`. */
function entryNamer(paths: readonly string[], shapes: readonly (readonly number[])[]): (k: number) => string {
  return (k) => {
    let leaf = 0;
    while (k >= shapes[leaf]!.reduce((a, b) => a * b, 1)) k -= shapes[leaf++]!.reduce((a, b) => a * b, 1);
    const shape = shapes[leaf]!;
    const index: number[] = [];
    for (let d = shape.length - 1; d >= 0; d--) {
      index.unshift(k % shape[d]!);
      k = Math.floor(k / shape[d]!);
    }
    return shape.length === 0 ? paths[leaf]! : `${paths[leaf]} [${index.join(", ")}]`;
  };
}

/** One vector from a list of leaves (differentiable). */
function toVector(leaves: readonly Tensor[]): Tensor {
  const flat = leaves.map((l) => reshape(l, [l.size]));
  return flat.length === 1 ? flat[0]! : concatenate(flat);
}

/**
 * Checks the derivatives of `f` at `args` (a list of pytrees, one per argument) against central finite
 * differences: for each order from 1 to `order` and each mode, every entry of the derivative computed by autodiff
 * against the central difference of the derivative one order lower. Returns a report with the worst mismatch and
 * whether all entries are within `atol + rtol·|numeric|`; with `throwOnFailure`, throws a `GradCheckError` instead
 * of returning a failed report. Use it on small inputs: it computes full derivative arrays (n^order columns for n
 * input entries).
 *
 * Typical uses: a `customJvp` / `customVjp` rule, an optimality condition given to `customRoot` (check the layer
 * built from it, to second order if you take Hessians or hypergradients of it), a loss written with `where` or
 * `maximum` away from its kinks.
 *
 * @example
 * ```ts
 * import { checkGrads, customVjp, exp, mul, sum, tensor, type Tensor } from "diffopt";
 * // x ↦ exp(x) with a hand-written reverse rule, checked in both modes to second order
 * const myExp = customVjp(
 *   (x: Tensor) => exp(x),
 *   (x: Tensor) => [exp(x), exp(x)],
 *   (y: Tensor, ct: Tensor) => [mul(ct, y)],
 * );
 * const report = checkGrads((x: Tensor) => sum(myExp(x)), [tensor([0.5, -1])], { order: 2 });
 * console.log(report.ok, report.checked); // true 12
 * report.maxRelError < 1e-7; // true
 * ```
 */
export function checkGrads<F extends TreeFn>(f: F, args: Parameters<F>, opts: CheckGradsOptions = {}): GradCheckReport {
  checkFunction(f, "checkGrads", "f");
  checkOptions("checkGrads", opts, OPTION_KEYS);
  if (!Array.isArray(args)) throw new ValueError("checkGrads: args must be an array (one entry per argument of f)");
  const order = opts.order ?? 1;
  const modes = opts.modes ?? ["fwd", "rev"];
  const eps = opts.eps ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-8;
  if (!Number.isInteger(order) || order < 1)
    throw new ValueError(`checkGrads: order must be an integer ≥ 1, got ${order}`);
  if (!Array.isArray(modes) || modes.length === 0 || modes.some((m) => m !== "fwd" && m !== "rev")) {
    throw new ValueError(`checkGrads: modes must be a non-empty list of "fwd" and "rev", got ${JSON.stringify(modes)}`);
  }
  for (const [name, v] of [
    ["eps", eps],
    ["rtol", rtol],
    ["atol", atol],
  ] as const) {
    if (!(v >= 0 && Number.isFinite(v)) || (name === "eps" && v === 0)) {
      throw new ValueError(
        `checkGrads: ${name} must be a ${name === "eps" ? "positive" : "non-negative"} finite number, got ${v}`,
      );
    }
  }
  const argnums =
    opts.argnums === undefined
      ? args.map((_, i) => i)
      : typeof opts.argnums === "number"
        ? [opts.argnums]
        : [...opts.argnums];
  for (const a of argnums) {
    if (!Number.isInteger(a) || a < 0 || a >= args.length || argnums.indexOf(a) !== argnums.lastIndexOf(a)) {
      throw new ValueError(
        `checkGrads: argnums ${JSON.stringify(opts.argnums)} must list distinct arguments of the ${args.length} given`,
      );
    }
  }

  // The differentiated leaves as one vector v, and f as a function of v with one vector output.
  const diffArgs = stopGradient(argnums.map((a) => args[a] as Tree));
  const [inLeaves, inDef] = flatten(diffArgs);
  if (inLeaves.length === 0) throw new ValueError("checkGrads: the differentiated arguments have no tensor leaves");
  const cuts: number[] = [];
  inLeaves.slice(0, -1).reduce((acc, l) => (cuts.push(acc + l.size), acc + l.size), 0);
  let outPaths: string[] = [];
  let outShapes: (readonly number[])[] = [];
  const flatF = (v: Tensor): Tensor => {
    const parts = inLeaves.length === 1 ? [v] : split(v, cuts);
    const diff = unflatten<Tree[]>(
      inDef,
      parts.map((p, i) => reshape(p, inLeaves[i]!.shape)),
    );
    const callArgs: unknown[] = [...args];
    argnums.forEach((a, i) => (callArgs[a] = diff[i]));
    const [outLeaves, outDef] = flatten(f(...callArgs) as Tree);
    if (outLeaves.length === 0) throw new ValueError("checkGrads: f returned no tensor leaves");
    outPaths = leafPaths(outDef, "out");
    outShapes = outLeaves.map((l) => l.shape);
    return toVector(outLeaves);
  };
  const v0 = toVector(inLeaves);
  const n = v0.size;
  flatF(v0);
  const inPaths = (inDef.kind === "array" ? inDef.children : []).flatMap((c, i) => leafPaths(c, `args[${argnums[i]}]`));
  const nameIn = entryNamer(
    inPaths,
    inLeaves.map((l) => l.shape),
  );
  const nameOut = entryNamer(outPaths, outShapes);

  const report: GradCheckReport = { ok: true, maxAbsError: 0, maxRelError: 0, worst: null, checked: 0 };
  let worstScore = -1;
  for (const mode of modes) {
    const jac = mode === "fwd" ? jacfwd : jacrev;
    // derivs[k] is the derivative of order k as a function of v: [m, n, …, n] (k trailing n's).
    let lower = (v: Tensor): Tensor => flatF(v);
    for (let k = 1; k <= order; k++) {
      const analytic = jac(lower)(v0).data;
      const numeric = centralDifference(lower, v0, eps);
      const rows = analytic.length / n;
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < n; j++) {
          const a = analytic[r * n + j]!;
          const num = numeric[j * rows + r]!;
          const absError = Math.abs(a - num);
          const finite = Number.isFinite(absError);
          const relError = finite ? absError / Math.abs(num) : Infinity;
          const score = finite ? absError / (atol + rtol * Math.abs(num)) : Infinity;
          report.checked++;
          report.maxAbsError = Math.max(report.maxAbsError, finite ? absError : Infinity);
          report.maxRelError = Math.max(report.maxRelError, Number.isNaN(relError) ? 0 : relError);
          if (!(score <= 1)) report.ok = false;
          if (score > worstScore || worstScore < 0) {
            worstScore = score;
            // r enumerates (output entry, inputs of orders 1..k−1), j the input of order k.
            const inputs: string[] = [];
            let rest = r;
            for (let d = 1; d < k; d++) {
              inputs.unshift(nameIn(rest % n));
              rest = Math.floor(rest / n);
            }
            inputs.push(nameIn(j));
            report.worst = {
              order: k,
              mode,
              output: nameOut(rest),
              inputs,
              analytic: a,
              numeric: num,
              absError,
              relError,
            };
          }
        }
      }
      const next = lower;
      lower = (v: Tensor) => {
        const d = jac(next)(v);
        return reshape(d, [d.size]);
      };
    }
  }
  if (!report.ok && opts.throwOnFailure) {
    const w = report.worst!;
    throw new GradCheckError(
      `checkGrads: the order-${w.order} derivative (${w.mode} mode) of ${w.output} with respect to ${w.inputs.join(", ")} is ${w.analytic} by autodiff but ${w.numeric} by central differences (|error| ${w.absError.toExponential(2)}, relative ${w.relError.toExponential(2)}; rtol ${rtol}, atol ${atol}); check the derivative rules of f, or the step eps ${eps} if f is not smooth there`,
      report,
    );
  }
  return report;
}

/** Central differences of `g` at `v`: column j (stored contiguously at j·size) is (g(v + h eⱼ) − g(v − h eⱼ)) / 2h. */
function centralDifference(g: (v: Tensor) => Tensor, v: Tensor, h: number): Float64Array {
  const n = v.size;
  let out: Float64Array | null = null;
  for (let j = 0; j < n; j++) {
    const plus = Float64Array.from(v.data);
    const minus = Float64Array.from(v.data);
    plus[j]! += h;
    minus[j]! -= h;
    const gp = g(new Tensor(plus, v.shape)).data;
    const gm = g(new Tensor(minus, v.shape)).data;
    out ??= new Float64Array(gp.length * n);
    for (let i = 0; i < gp.length; i++) out[j * gp.length + i] = (gp[i]! - gm[i]!) / (2 * h);
  }
  return out!;
}

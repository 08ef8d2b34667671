/**
 * Bisection for a scalar root of F(x, ...args) on a bracket [lower, upper]: slow (one bit per step) but
 * guaranteed, needing only the signs of F. Its iterates are piecewise constant in the arguments, so its
 * derivative can only come from the root condition: it is always differentiated implicitly (to any order).
 * @module
 */
import { NonFiniteError, ShapeError, ValueError } from "../core/errors.js";
import { Tensor, asTensor, scalar } from "../core/tensor.js";
import type { Tree } from "../core/tree.js";
import { NonScalarOutputError } from "../core/errors.js";
import type { RunParams, SolverOptions, SolverResult, SolverState } from "./base.js";
import { RootFinder } from "./families.js";

/** Options of {@link Bisection}. */
export interface BisectionOptions extends Omit<SolverOptions, "implicitDiff"> {
  /** The scalar function F(x, ...args) whose root is sought (x a scalar tensor). */
  // `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun: (x: Tensor, ...args: any[]) => Tensor;
  /** Lower end of the bracket. */
  lower: number;
  /** Upper end of the bracket; F(lower) and F(upper) must have opposite signs (or one of them be 0). */
  upper: number;
  /** Must be true or omitted: the unrolled derivative of bisection is 0 (its iterates are piecewise constant). */
  implicitDiff?: true;
}

/** The state of {@link Bisection}. */
export interface BisectionState extends SolverState {
  /** The current bracket [low, high] (F changes sign on it). */
  low: number;
  high: number;
  /** F at the current iterate. */
  value: number;
}

/**
 * Bisection for a root of a scalar F(x, ...args) in [lower, upper]. `run(init, ...args)`: `init` (optional,
 * default the midpoint) is the first iterate; each update keeps the half of the bracket on which F changes sign
 * and moves to its midpoint. `error` is |F(x)|, or 0 once no float lies strictly inside the bracket (the root is
 * then located to machine precision). Throws a `ValueError` when F(lower) and F(upper) have the same sign.
 *
 * The root is differentiated implicitly through F(x*, ...args) = 0 (the derivative −∂θF / ∂ₓF at x*), to any order;
 * `implicitDiff: false` is rejected, because the iterates are piecewise constant and their derivative is 0.
 *
 * @example
 * ```ts
 * import { Bisection, grad, sub, tensor } from "diffopt";
 * // x³ = a on [0, 10]: x*(a) = a^(1/3), with derivative a^(−2/3) / 3
 * const cbrt = new Bisection({ optimalityFun: (x, a) => sub(x.mul(x).mul(x), a), lower: 0, upper: 10, tol: 1e-12 });
 * cbrt.run(undefined, tensor(8)).params.item(); // ≈ 2
 * grad((a) => cbrt.run(undefined, a).params)(tensor(8)).item(); // ≈ 0.0833333333
 * ```
 */
export class Bisection extends RootFinder<BisectionState> {
  readonly lower: number;
  readonly upper: number;

  constructor(opts: BisectionOptions) {
    if ((opts as SolverOptions | undefined)?.implicitDiff === false)
      throw new ValueError(
        "Bisection: implicitDiff must be true: the unrolled derivative of bisection is 0 (its iterates are piecewise constant in the arguments)",
      );
    super("Bisection", opts?.optimalityFun, opts, {
      keys: ["optimalityFun", "lower", "upper"] satisfies (keyof BisectionOptions)[],
      functions: ["optimalityFun"],
    });
    if (!Number.isFinite(opts.lower) || !Number.isFinite(opts.upper) || !(opts.lower < opts.upper))
      throw new ValueError(`Bisection: need finite lower < upper, got lower = ${opts.lower}, upper = ${opts.upper}`);
    this.lower = opts.lower;
    this.upper = opts.upper;
  }

  /** F(x, ...args) as a number, checking that it is a finite scalar. */
  private valueAt(x: number | Tensor, args: readonly Tree[], where: string): number {
    const out = asTensor(this.fun(typeof x === "number" ? scalar(x) : x, ...args) as Tensor);
    if (out.size !== 1)
      throw new NonScalarOutputError(
        `Bisection: optimalityFun must return a scalar, got shape [${out.shape.join(", ")}]`,
      );
    const v = out.raw[0]!;
    if (Number.isNaN(v)) throw new NonFiniteError(`Bisection: optimalityFun(${where}) is NaN`);
    return v;
  }

  /** `init` defaults to the midpoint of the bracket. */
  /** Type-level only: `run`'s params are a scalar tensor, also when `init` is omitted. */
  declare readonly solutionType?: Tensor;

  override run<P>(init: P, ...args: unknown[]): SolverResult<BisectionState, RunParams<this, P>>;
  override run(init?: Tensor | number, ...args: unknown[]): SolverResult<BisectionState, Tensor> {
    const start = init === undefined ? scalar((this.lower + this.upper) / 2) : asTensor(init);
    return super.run(start, ...args) as SolverResult<BisectionState, Tensor>;
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): BisectionState {
    const x = asTensor(init);
    if (x.ndim !== 0) throw new ShapeError(`Bisection: init must be a scalar, got shape [${x.shape.join(", ")}]`);
    const xv = x.raw[0]!;
    if (!(xv >= this.lower && xv <= this.upper))
      throw new ValueError(`Bisection: init = ${xv} is outside the bracket [${this.lower}, ${this.upper}]`);
    const fl = this.valueAt(this.lower, args, "lower");
    const fu = this.valueAt(this.upper, args, "upper");
    if (Math.sign(fl) * Math.sign(fu) > 0)
      throw new ValueError(
        `Bisection: optimalityFun(lower = ${this.lower}) = ${fl} and optimalityFun(upper = ${this.upper}) = ${fu} have the same sign, so [lower, upper] need not bracket a root; choose a bracket where the sign changes`,
      );
    const value = this.valueAt(x, args, "init");
    // The bracket is oriented so that F(low) ≤ 0 ≤ F(high) in sign, whichever way F crosses.
    const [low, high] = fl <= 0 ? [this.lower, this.upper] : [this.upper, this.lower];
    return { iterNum: 0, error: Math.abs(value), status: "maxIterReached", low, high, value };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: BisectionState, ...args: any[]): SolverResult<BisectionState> {
    const x = asTensor(params).raw[0]!;
    let { low, high } = state;
    if (state.value <= 0) low = x;
    else high = x;
    const mid = (low + high) / 2;
    const value = this.valueAt(mid, args, `${mid}`);
    const exhausted = mid === low || mid === high;
    return {
      params: scalar(mid),
      state: {
        iterNum: state.iterNum + 1,
        error: exhausted ? 0 : Math.abs(value),
        status: state.status,
        low,
        high,
        value,
      },
    };
  }
}

/**
 * Nonlinear least squares min ½‖r(x, ...args)‖² for a pytree of residuals r: `GaussNewton` and
 * `LevenbergMarquardt`, the least-squares family of the descent × step-rule loop.
 *
 * ## The implicit derivative uses the exact condition
 * The family's condition is stationarity of ½‖r‖²: F(x, θ) = J(x, θ)ᵀ r(x, θ) = 0. Its Jacobian in x is the full
 * Hessian JᵀJ + Σᵢ rᵢ∇²rᵢ, and that is what the implicit function theorem needs: ∂_θx* = −(∂ₓF)⁻¹ ∂_θF. The
 * Gauss–Newton matrix JᵀJ that the solvers iterate with drops the second term, which vanishes only when the
 * residuals do at the solution; on a problem that cannot be fitted exactly (non-zero residual at x*), a derivative
 * built on JᵀJ is wrong by a term proportional to the residual. Because F is written as a gradient and
 * differentiated by autodiff, the backward pass uses the exact Hessian (Hessian-vector products,
 * forward-over-reverse), never the approximation. The test suite and the guide show the difference on
 * θ₀·exp(θ₁t) fitted to data it cannot match.
 *
 * @module
 */
import type { Tensor } from "../../core/tensor.js";
import { flatten, type Tree } from "../../core/tree.js";
import { add, mul } from "../../core/ops/elementwise.js";
import { sum } from "../../core/ops/reduce.js";
import type { ImplicitOptions } from "../../implicit/root.js";
import type { SolverOptions } from "../base.js";
import { objectiveValueAndGrad, positiveOption, unitIntervalOption } from "../common.js";
import type { ObjectiveFn } from "../conditions.js";
import type { Descent } from "./descents.js";
import { DescentMinimizer } from "./minimizer.js";
import type { ResidualFn } from "./model.js";
import { dampedDescent, gaussNewtonDescent } from "./least-squares-descents.js";
import type { StepRule } from "./steps.js";
import { lineSearchOf, trustRegionOf, type LineSearchMinimizerOptions } from "./solvers.js";

/** Options of the least-squares solvers. */
export interface LeastSquaresOptions extends SolverOptions {
  /** The residuals r(params, ...args): a pytree of tensors; the objective is ½‖r‖². */
  residualFun: ResidualFn;
}

/**
 * The least-squares family: the objective is ½‖r‖², the condition Jᵀr = ∇(½‖r‖²) = 0 (its Jacobian, the full
 * Hessian, is symmetric), and `error` is ‖Jᵀr‖.
 *
 * @example
 * ```ts
 * import { GaussNewton, LeastSquaresSolver, tensor, sub, mul, type Tensor } from "diffopt";
 * // r(x) = x·(1, 2) − y: at x = 1, y = (0, 1), r = (1, 1) and Jᵀr = 1 + 2 = 3
 * const solver = new GaussNewton({ residualFun: (x, y) => sub(mul(x, tensor([1, 2])), y) });
 * solver instanceof LeastSquaresSolver; // true
 * (solver.optimalityFun(tensor(1), tensor([0, 1])) as Tensor).item(); // 3
 * ```
 */
export abstract class LeastSquaresSolver extends DescentMinimizer {
  /** The residual function r(params, ...args). */
  override readonly residualFun: ResidualFn;
  protected readonly objective: ObjectiveFn;

  protected constructor(name: string, opts: LeastSquaresOptions, keys: readonly string[]) {
    super(name, opts, { keys: ["residualFun", ...keys], functions: ["residualFun"] });
    const residualFun = opts.residualFun;
    this.residualFun = residualFun;
    this.objective = (x, ...args) => {
      let acc: Tensor | number = 0;
      for (const r of flatten(residualFun(x, ...args))[0]) acc = add(acc, sum(mul(r, r)));
      return mul(acc, 0.5);
    };
  }

  /** Jᵀr = ∇ₓ(½‖r(params, ...args)‖²), zero at a stationary point of the fit. */
  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, ...args: any[]): Tree {
    return objectiveValueAndGrad(this.objective, params, args, this.name)[1];
  }

  protected implicitHints(): ImplicitOptions {
    return { symmetric: true };
  }
}

/** Options of {@link GaussNewton}. */
export type GaussNewtonOptions = LeastSquaresOptions &
  Pick<LineSearchMinimizerOptions, "lineSearch" | "c1" | "c2" | "maxLineSearchIter">;

/**
 * Gauss–Newton: the direction solves JᵀJ p = −Jᵀr (Cholesky when n ≤ 200, CG on JᵀJ otherwise), and a line
 * search (backtracking Armijo by default, so the full step is tried first) damps it. Fast on well-conditioned,
 * small-residual fits; when J loses rank the run stalls with a message (use `LevenbergMarquardt`). The implicit
 * derivative uses the exact condition Jᵀr = 0 (see the module notes).
 *
 * @example
 * ```ts
 * import { GaussNewton, tensor, exp, mul, sub, type Tensor } from "diffopt";
 * const t = tensor([0, 1, 2, 3]);
 * const y = tensor([2, 1.3, 0.7, 0.5]);
 * const residuals = (theta: Tensor, t: Tensor, y: Tensor) => sub(mul(theta.at(0).get(), exp(mul(theta.at(1).get(), t))), y);
 * const { params, state } = new GaussNewton({ residualFun: residuals, tol: 1e-10 }).run(tensor([1, 0]), t, y);
 * console.log(state.status, params.toArray()); // converged [≈ 1.98, ≈ -0.47]
 * ```
 */
export class GaussNewton extends LeastSquaresSolver {
  /** @internal */
  protected readonly descent: Descent<unknown>;
  /** @internal */
  protected readonly rule: StepRule<unknown>;

  constructor(opts: GaussNewtonOptions) {
    super("GaussNewton", opts, ["lineSearch", "c1", "c2", "maxLineSearchIter"] satisfies (keyof GaussNewtonOptions)[]);
    this.descent = gaussNewtonDescent();
    this.rule = lineSearchOf(this.name, opts, { lineSearch: "backtracking", c2: 0.9 });
  }
}

/** Options of {@link LevenbergMarquardt}. */
export interface LevenbergMarquardtOptions extends LeastSquaresOptions {
  /** Initial damping λ₀ = tau·max diag(JᵀJ) (default 1e-3). */
  tau?: number;
  /**
   * Geodesic acceleration (Transtrum & Sethna): add half the second-order correction a to each step, and reject
   * steps with 2‖a‖/‖v‖ > alpha. `true` means alpha = 0.75 (default false).
   */
  geodesicAcceleration?: boolean | { alpha: number };
  /** Trial dampings per iteration before stalling (default 50). */
  maxTrials?: number;
}

/**
 * Levenberg–Marquardt: the step solves (JᵀJ + λI) s = −Jᵀr (Cholesky when n ≤ 200, CG otherwise); λ follows
 * Nielsen's update — after a step with gain ratio ρ > 0 it is multiplied by max(⅓, 1 − (2ρ − 1)³), after a
 * rejected one by ν (ν doubling on each successive rejection). Robust where Gauss–Newton is not (rank-deficient
 * or far-from-solution Jacobians). Optional geodesic acceleration. The implicit derivative uses the exact
 * condition Jᵀr = 0 (see the module notes), not the damped or Gauss–Newton matrix.
 *
 * @example
 * ```ts
 * import { LevenbergMarquardt, grad, tensor, exp, mul, sub, type Tensor } from "diffopt";
 * const t = tensor([0, 1, 2, 3]);
 * const residuals = (theta: Tensor, y: Tensor) => sub(mul(theta.at(0).get(), exp(mul(theta.at(1).get(), t))), y);
 * const lm = new LevenbergMarquardt({ residualFun: residuals, tol: 1e-10 });
 * const y = tensor([2, 1.3, 0.7, 0.5]);
 * console.log(lm.run(tensor([1, 0]), y).params.toArray()); // [≈ 1.98, ≈ -0.47]
 * // how the fitted rate moves with the data, by implicit differentiation of Jᵀr = 0
 * grad((y) => lm.run(tensor([1, 0]), y).params.at(1).get())(y);
 * ```
 */
export class LevenbergMarquardt extends LeastSquaresSolver {
  /** @internal */
  protected readonly descent: Descent<unknown>;
  /** @internal */
  protected readonly rule: StepRule<unknown>;

  constructor(opts: LevenbergMarquardtOptions) {
    super("LevenbergMarquardt", opts, [
      "tau",
      "geodesicAcceleration",
      "maxTrials",
    ] satisfies (keyof LevenbergMarquardtOptions)[]);
    const tau = positiveOption(opts.tau ?? 1e-3, this.name, "tau");
    const g = opts.geodesicAcceleration ?? false;
    const geodesic =
      g === false
        ? null
        : { alpha: g === true ? 0.75 : unitIntervalOption(g.alpha, this.name, "geodesicAcceleration.alpha") };
    this.descent = dampedDescent({ tau, geodesic });
    this.rule = trustRegionOf(this.name, { maxTrials: opts.maxTrials }, "nielsen");
  }
}

/**
 * Mirror descent with the KL (entropic) geometry on products of simplices.
 * @module
 */
import { Tensor, asTensor } from "../core/tensor.js";
import { sub, type Tree } from "../core/tree.js";
import type { ImplicitOptions } from "../implicit/root.js";
import { Solver, type SolverOptions, type SolverResult, type SolverState } from "./base.js";
import { normOf, objectiveValueAndGrad, positiveOption } from "./common.js";
import { checkSimplexRows, klMirrorStep, mirrorDescentFixedPoint, type ObjectiveFn } from "./conditions.js";

/** Options of {@link MirrorDescent}. */
export interface MirrorDescentOptions extends SolverOptions {
  /** The objective f(params, ...args), a scalar; params is a tensor whose rows (last axis) lie on the simplex. */
  fun: ObjectiveFn;
  /** The step size η (≤ 1/L, with L the Lipschitz constant of ∇f in the ℓ∞ / ℓ1 pairing, for convergence). */
  stepsize: number;
}

/** The state of {@link MirrorDescent}. */
export interface MirrorDescentState extends SolverState {
  value: number;
  /** ∇f at the current iterate. */
  grad: Tensor;
}

/**
 * Mirror descent with the KL geometry for min f(x, ...args) over x ∈ (△ᵏ)ᵐ (each row of x on the probability
 * simplex): x ← softmax(log x − η∇f(x)) row-wise, the exponentiated-gradient update, computed in a stable
 * multiplicative form (no logarithm of zero, no overflow). Iterates stay strictly inside the simplices when
 * `init` does. `error` is ‖x⁺ − x‖/η. The implicit derivative uses {@link mirrorDescentFixedPoint} with η.
 *
 * @example
 * ```ts
 * import { MirrorDescent, sum, square, sub, tensor } from "diffopt";
 * // the point of the simplex nearest to c
 * const f = (x, c) => sum(square(sub(x, c))).mul(0.5);
 * const solver = new MirrorDescent({ fun: f, stepsize: 1, tol: 1e-9, maxIter: 5000 });
 * solver.run(tensor([1 / 3, 1 / 3, 1 / 3]), tensor([0.6, 0.5, -0.2])).params; // ≈ [0.55, 0.45, 0]
 * ```
 */
export class MirrorDescent extends Solver<MirrorDescentState> {
  readonly fun: ObjectiveFn;
  readonly stepsize: number;

  constructor(opts: MirrorDescentOptions) {
    super("MirrorDescent", opts, {
      keys: ["fun", "stepsize"] satisfies (keyof MirrorDescentOptions)[],
      functions: ["fun"],
    });
    this.fun = opts.fun;
    this.stepsize = positiveOption(opts.stepsize, this.name, "stepsize");
  }

  init(init: any, ...args: any[]): MirrorDescentState {
    const x = asTensor(init);
    checkSimplexRows(x, this.name, "init");
    const [v, g] = objectiveValueAndGrad(this.fun, x, args, this.name);
    const next = klMirrorStep(x, g as Tensor, this.stepsize);
    return {
      iterNum: 0,
      error: normOf(sub(next, x)) / this.stepsize,
      status: "maxIterReached",
      value: v.item(),
      grad: g as Tensor,
    };
  }

  update(params: any, state: MirrorDescentState, ...args: any[]): SolverResult<MirrorDescentState> {
    const x = asTensor(params);
    const next = klMirrorStep(x, state.grad, this.stepsize);
    const error = normOf(sub(next, x)) / this.stepsize;
    const [v, g] = objectiveValueAndGrad(this.fun, next, args, this.name);
    return {
      params: next,
      state: { iterNum: state.iterNum + 1, error, status: state.status, value: v.item(), grad: g as Tensor },
    };
  }

  /** T(params) − params for the KL mirror-descent fixed point T with the solver's step: zero at a solution. */
  optimalityFun(params: any, ...args: any[]): Tree {
    return sub(mirrorDescentFixedPoint(this.fun, this.stepsize)(params, ...args), params);
  }

  protected implicitHints(): ImplicitOptions {
    return {};
  }
}

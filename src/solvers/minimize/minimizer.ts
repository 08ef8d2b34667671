/**
 * The one minimiser loop: a descent (where to go) × a step rule (how far), as in Optimistix. `LBFGS`, `BFGS`,
 * `NonlinearCG`, `Newton`, `TrustRegion`, `GaussNewton`, `LevenbergMarquardt` and `LBFGSB` are this loop with
 * different parts; none writes its own iteration.
 *
 * The problem family owns the optimality condition that implicit differentiation uses: ∇f = 0 for a minimiser,
 * Jᵀr = ∇(½‖r‖²) = 0 for least squares, the projected-gradient fixed point for a box. Each family is a subclass
 * that states its objective over the arguments of `run`, its condition and its error measure.
 *
 * When no step can be found (the line search finds no decrease, there is no descent direction, the trust region
 * collapses), the loop first forgets the descent's memory (quasi-Newton pairs, conjugate directions) and tries
 * again from the gradient; if that fails too, the run stops with status "stalled" and `state.message` says why.
 *
 * @module
 */
import { add, sub, type Tree } from "../../core/tree.js";
import type { ImplicitOptions } from "../../implicit/root.js";
import { Solver, type SolverOptionSpec, type SolverOptions, type SolverResult, type SolverState } from "../base.js";
import { isConcrete, lineSearchFunction, normOf, objectiveValueAndGrad } from "../common.js";
import type { ObjectiveFn } from "../conditions.js";
import type { LineSearchFunction } from "../linesearch.js";
import type { Descent } from "./descents.js";
import { localModel, type LocalModel, type ResidualFn } from "./model.js";
import type { StepOutcome, StepRule } from "./steps.js";

/** The state of the descent-based minimisers. */
export interface MinimizerState extends SolverState {
  /** f at the iterate. */
  value: number;
  /** ∇f at the iterate. */
  grad: Tree;
  /** The size of the last step: the line-search step size, or the norm of the trust-region step. */
  stepsize: number;
  /** Evaluations of f (with or without its gradient) so far. */
  numFunEvals: number;
  /** Why the run stalled; empty otherwise. */
  message: string;
  /** The descent's memory (curvature pairs, previous direction…). */
  descentState: unknown;
  /** The step rule's memory (trust-region size…). */
  ruleState: unknown;
}

/**
 * Base class of the descent × step-rule minimisers. A subclass chooses the parts and, as a problem family,
 * its objective over the arguments of `run` (`objective`), its condition (`optimalityFun`) and its error.
 * Every minimiser can be driven one accepted step at a time with `init` and `update`.
 *
 * @example
 * ```ts
 * import { BFGS, tensor, sum, square, type Tensor, type Tree } from "diffopt";
 * const solver = new BFGS({ fun: (x: Tensor) => sum(square(x.sub(1))) });
 * let params: Tree = tensor([0, 0]);
 * let state = solver.init(params);
 * ({ params, state } = solver.update(params, state));
 * state.iterNum; // 1
 * (params as Tensor).toArray(); // ≈ [0.7071, 0.7071] (the first step has length 1)
 * ```
 */
export abstract class DescentMinimizer extends Solver<MinimizerState> {
  /** @internal The search direction. */
  protected abstract readonly descent: Descent<unknown>;
  /** @internal The step rule. */
  protected abstract readonly rule: StepRule<unknown>;
  /** @internal The objective over all the arguments of `run` after `init`. */
  protected abstract readonly objective: ObjectiveFn;
  /** @internal The residual function for least-squares families (the objective is then ½‖r‖²). */
  protected readonly residualFun: ResidualFn | undefined;

  /** @internal The error measure at x with gradient g (default ‖g‖). */
  protected errorOf(_x: Tree, g: Tree, _args: readonly Tree[]): number {
    return normOf(g);
  }

  private model(x: Tree, value: number, grad: Tree, args: readonly Tree[]): LocalModel {
    return localModel(this.objective, x, args, value, grad, this.residualFun);
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): MinimizerState {
    const [v, g] = objectiveValueAndGrad(this.objective, init, args, this.name);
    const model = this.model(init, v.raw[0]!, g, args);
    return {
      iterNum: 0,
      error: this.errorOf(init, g, args),
      status: "maxIterReached",
      value: v.raw[0]!,
      grad: g,
      stepsize: 0,
      numFunEvals: 1,
      message: "",
      descentState: this.descent.init(model),
      ruleState: this.rule.init(),
    };
  }

  private attempt(f: LineSearchFunction, model: LocalModel, descentState: unknown, ruleState: unknown) {
    const direction = this.descent.direction(model, descentState);
    if (typeof direction === "string") {
      return {
        direction: null,
        outcome: { ok: false, message: direction, numEvals: 0, state: ruleState } as StepOutcome<unknown>,
      };
    }
    return { direction, outcome: this.rule.search({ f, model, direction, state: ruleState }) };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: MinimizerState, ...args: any[]): SolverResult<MinimizerState> {
    const model = this.model(params, state.value, state.grad, args);
    const f = lineSearchFunction(this.objective, args, this.name);
    let descentState = state.descentState;
    let { direction, outcome } = this.attempt(f, model, descentState, state.ruleState);
    let numFunEvals = state.numFunEvals + outcome.numEvals;
    if (!outcome.ok && this.descent.reset !== undefined) {
      descentState = this.descent.reset(model);
      ({ direction, outcome } = this.attempt(f, model, descentState, outcome.state));
      numFunEvals += outcome.numEvals;
    }
    if (!outcome.ok || direction === null) {
      const message = `${this.name}: stalled at iteration ${state.iterNum + 1}: ${outcome.ok ? "" : outcome.message}`;
      return {
        params,
        state: {
          ...state,
          iterNum: state.iterNum + 1,
          status: "stalled",
          message,
          numFunEvals,
          ruleState: outcome.state,
        },
      };
    }
    const next: Tree = add(params, outcome.step);
    let value = outcome.value;
    let g = outcome.grad;
    if (!(isConcrete(next) && isConcrete(args))) {
      const [v, gg] = objectiveValueAndGrad(this.objective, next, args, this.name);
      value = v.raw[0]!;
      g = gg;
    }
    descentState = this.descent.update(descentState, {
      s: sub(next, params),
      y: sub(g, model.grad),
      gradOld: model.grad,
      grad: g,
      p: direction.kind === "line" ? direction.p : null,
      stepsize: outcome.size,
      slope: outcome.slope,
      restart: direction.kind === "line" && (direction.restart ?? false),
    });
    return {
      params: next,
      state: {
        iterNum: state.iterNum + 1,
        error: this.errorOf(next, g, args),
        status: state.status,
        value,
        grad: g,
        stepsize: outcome.size,
        numFunEvals,
        message: "",
        descentState,
        ruleState: outcome.state,
      },
    };
  }
}

/** Options of every minimiser of a smooth f(params, ...args). */
export interface MinimizerOptions extends SolverOptions {
  /** The objective f(params, ...args), a scalar; params may be any pytree. */
  fun: ObjectiveFn;
}

/** @internal The option names of {@link MinimizerOptions}. */
export const MINIMIZER_KEYS = ["fun"] as const satisfies readonly (keyof MinimizerOptions)[];

/**
 * The minimiser family: the condition is stationarity ∇ₓf(x, ...args) = 0, whose Jacobian (the Hessian) is
 * symmetric, so the implicit backward solve can use Cholesky, CG or MINRES.
 *
 * @example
 * ```ts
 * import { LBFGS, Minimizer, tensor, sum, square, type Tensor } from "diffopt";
 * const solver = new LBFGS({ fun: (x: Tensor) => sum(square(x.sub(1))) });
 * solver instanceof Minimizer; // true
 * (solver.optimalityFun(tensor([3, 1])) as Tensor).toArray(); // [4, 0]
 * ```
 */
export abstract class Minimizer extends DescentMinimizer {
  /** The objective f(params, ...args). */
  readonly fun: ObjectiveFn;
  protected readonly objective: ObjectiveFn;

  protected constructor(name: string, opts: MinimizerOptions, spec: SolverOptionSpec) {
    super(name, opts, spec);
    this.fun = opts.fun;
    this.objective = opts.fun;
  }

  /** ∇ₓf(params, ...args), zero at a stationary point. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, ...args: any[]): Tree {
    return objectiveValueAndGrad(this.fun, params, args, this.name)[1];
  }

  protected implicitHints(): ImplicitOptions {
    return { symmetric: true };
  }
}

/**
 * Gradient descent with a fixed step or backtracking (Armijo), optionally with Nesterov acceleration.
 * @module
 */
import { add, norm, scale, sub, type Tree } from "../core/tree.js";
import { Tensor, tensor } from "../core/tensor.js";
import { div, sub as subOp } from "../core/ops/elementwise.js";
import { grad, stopGradient } from "../core/transforms.js";
import type { ImplicitOptions } from "../implicit/root.js";
import { Solver, type SolverOptions, type SolverResult, type SolverState } from "./base.js";
import type { ObjectiveFn } from "./conditions.js";
import { backtrackingLineSearch } from "./linesearch.js";
import { numberFields, tensorFields, type TensorState, type TensorUpdate } from "./batched-run.js";
import { stepsizeOption, type Stepsize, type StepsizeSchedule } from "./schedule.js";
import {
  isConcrete,
  lineSearchFunction,
  nextMomentum,
  objectiveValueAndGrad,
  positiveOption,
  unitIntervalOption,
} from "./common.js";

/** Options of {@link GradientDescent}. */
export interface GradientDescentOptions extends SolverOptions {
  /** The objective f(params, ...args), a scalar. */
  fun: ObjectiveFn;
  /**
   * A fixed step size, or a schedule k ↦ η_k (a function of the iteration number); omit it for a backtracking
   * (Armijo) line search at every step.
   */
  stepsize?: number | StepsizeSchedule;
  /** Nesterov's acceleration (default false). */
  acceleration?: boolean;
  /** Backtracking: the factor applied to a rejected step (default 0.5); the next search starts one factor larger. */
  decreaseFactor?: number;
  /** Backtracking: the largest step tried (default 1e4). */
  maxStepsize?: number;
  /** Backtracking: trial steps per line search (default 30). */
  maxBacktrackingIter?: number;
}

const GRADIENT_DESCENT_KEYS = [
  "fun",
  "stepsize",
  "acceleration",
  "decreaseFactor",
  "maxStepsize",
  "maxBacktrackingIter",
] as const satisfies readonly (keyof GradientDescentOptions)[];

/** The number fields of {@link GradientDescentState} (besides `iterNum`). */
const GRADIENT_DESCENT_SCALARS = ["error", "value", "stepsize", "momentum"] as const;

/** The state of {@link GradientDescent}. */
export interface GradientDescentState extends SolverState {
  value: number;
  /** ∇f at the point the next step starts from (the iterate, or the extrapolated point with acceleration). */
  grad: Tree;
  /** The last step size taken. */
  stepsize: number;
  /** Acceleration: the extrapolated point and the momentum sequence value. */
  extrapolated: Tree;
  momentum: number;
}

/**
 * Gradient descent on a smooth objective f(params, ...args): x ← x − η∇f(x), with a fixed η, a schedule η_k,
 * or a backtracking line search (Armijo with c₁ = ½, i.e. the test f(x⁺) ≤ f(x) − (η/2)‖∇f(x)‖²; each search
 * starts one `decreaseFactor` above the last step), and optionally Nesterov's acceleration. `error` is ‖∇f‖ at the point the next step
 * starts from. The implicit derivative uses the gradient fixed point T = x − ∇f (backward operator: the
 * Hessian, symmetric).
 *
 * @example
 * ```ts
 * import { GradientDescent, objective, grad, tensor } from "diffopt";
 * const X = tensor([[1, 0], [0, 2], [1, 1]]);
 * const y = tensor([1, 2, 3]);
 * const solver = new GradientDescent({ fun: objective.ridgeRegression, tol: 1e-8 });
 * const { params, state } = solver.run(tensor([0, 0]), tensor(0.1), [X, y]);
 * console.log(state.status, params.toArray());
 * // hypergradient of the solution with respect to the regularisation, by implicit differentiation
 * grad((lam) => solver.run(tensor([0, 0]), lam, [X, y]).params.sum())(tensor(0.1));
 * ```
 */
export class GradientDescent extends Solver<GradientDescentState> {
  readonly fun: ObjectiveFn;
  readonly stepsize: number | StepsizeSchedule | undefined;
  private readonly schedule: Stepsize | undefined;
  readonly acceleration: boolean;
  readonly decreaseFactor: number;
  readonly maxStepsize: number;
  readonly maxBacktrackingIter: number;

  constructor(opts: GradientDescentOptions) {
    super("GradientDescent", opts, { keys: GRADIENT_DESCENT_KEYS, functions: ["fun"] });
    this.fun = opts.fun;
    this.stepsize = opts.stepsize;
    this.schedule = opts.stepsize === undefined ? undefined : stepsizeOption(opts.stepsize, this.name);
    this.acceleration = opts.acceleration ?? false;
    this.decreaseFactor = unitIntervalOption(opts.decreaseFactor ?? 0.5, this.name, "decreaseFactor");
    this.maxStepsize = positiveOption(opts.maxStepsize ?? 1e4, this.name, "maxStepsize");
    this.maxBacktrackingIter = opts.maxBacktrackingIter ?? 30;
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): GradientDescentState {
    return numberFields(this.start(init, args), GRADIENT_DESCENT_SCALARS);
  }

  /** The initial state with ops only (so that it batches). */
  private start(init: Tree, args: readonly Tree[]): TensorState<GradientDescentState> {
    const [v, g] = objectiveValueAndGrad(this.fun, init, args, this.name);
    return {
      iterNum: 0,
      error: norm(stopGradient(g)),
      status: "maxIterReached",
      value: stopGradient(v),
      grad: g,
      stepsize: tensor(this.schedule?.fixed ?? 1),
      extrapolated: init,
      momentum: tensor(1),
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: GradientDescentState, ...args: any[]): SolverResult<GradientDescentState> {
    let eta = this.schedule?.at(state.iterNum);
    let found: [number, Tree, Tree] | null = null;
    if (eta === undefined) {
      const ls = backtrackingLineSearch(
        lineSearchFunction(this.fun, args, this.name),
        this.acceleration ? state.extrapolated : params,
        state.value,
        state.grad,
        scale(-1, state.grad),
        {
          initialStepsize: Math.min(state.stepsize / this.decreaseFactor, this.maxStepsize),
          // c₁ = ½: f(x − ηg) ≤ f(x) − (η/2)‖g‖², the quadratic upper-bound test, which keeps η below about 1/L
          // (as acceleration needs).
          c1: 0.5,
          decreaseFactor: this.decreaseFactor,
          maxIter: this.maxBacktrackingIter,
        },
      );
      eta = ls.stepsize;
      found = [ls.value, ls.params, ls.grad];
    }
    const r = this.advance(params, tensorFields(state, GRADIENT_DESCENT_SCALARS), eta, args, found);
    return { params: r.params, state: numberFields(r.state, GRADIENT_DESCENT_SCALARS) };
  }

  /** @internal With a fixed step or a schedule the update is arithmetic: `run` under `vmap` batches it. */
  protected override tensorUpdate(): TensorUpdate<GradientDescentState> | undefined {
    const schedule = this.schedule;
    if (schedule === undefined) return undefined;
    return {
      scalars: GRADIENT_DESCENT_SCALARS,
      init: (x0, args) => this.start(x0, args),
      update: (params, state, args) => this.advance(params, state, schedule.at(state.iterNum), args, null),
    };
  }

  /**
   * The update with step η, with ops only (so that it batches); `found` is [f, x⁺, ∇f(x⁺)] from the line search,
   * reused when nothing is traced.
   */
  private advance(
    params: Tree,
    state: TensorState<GradientDescentState>,
    eta: number,
    args: readonly Tree[],
    found: [number, Tree, Tree] | null,
  ): { params: Tree; state: TensorState<GradientDescentState> } {
    const base: Tree = this.acceleration ? state.extrapolated : params;
    const next: Tree = sub(base, scale(eta, state.grad));
    let point = next;
    let momentum = state.momentum;
    if (this.acceleration) {
      momentum = nextMomentum(state.momentum);
      point = add(next, scale(div(subOp(state.momentum, 1), momentum), sub(next, params)));
    }
    let value: Tensor;
    let g: Tree;
    if (found !== null && !this.acceleration && isConcrete(next) && isConcrete([...args])) {
      value = tensor(found[0]);
      g = found[2];
    } else {
      const [v, gg] = objectiveValueAndGrad(this.fun, point, args, this.name);
      value = stopGradient(v);
      g = gg;
    }
    return {
      params: next,
      state: {
        ...state,
        iterNum: state.iterNum + 1,
        error: norm(stopGradient(g)),
        value,
        grad: g,
        stepsize: tensor(eta),
        extrapolated: point,
        momentum,
      },
    };
  }

  /** ∇ₓf(params, ...args), zero at a stationary point. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, ...args: any[]): Tree {
    return grad(this.fun)(params, ...args) as Tree;
  }

  protected implicitHints(): ImplicitOptions {
    return { symmetric: true };
  }
}

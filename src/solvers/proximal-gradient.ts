/**
 * Proximal gradient (ISTA / FISTA) with backtracking on the smooth part, and projected gradient as its special
 * case with a projection for prox.
 * @module
 */
import { add, map, norm, scale, sub, vdot, type Tree } from "../core/tree.js";
import { tensor } from "../core/tensor.js";
import { div, greater, sub as subOp, where } from "../core/ops/elementwise.js";
import { stopGradient } from "../core/transforms.js";
import type { ImplicitOptions } from "../implicit/root.js";
import { checkFunction } from "../core/options.js";
import { Solver, type SolverOptions, type SolverResult, type SolverState } from "./base.js";
import {
  curvatureAlong,
  nextMomentum,
  normOf,
  objectiveValueAndGrad,
  positiveOption,
  unitIntervalOption,
} from "./common.js";
import { LIPSCHITZ_MARGIN, decideBelow, gradientSlack } from "./linesearch.js";
import { stepsizeOption, type Stepsize, type StepsizeSchedule } from "./schedule.js";
import { numberFields, tensorFields, type TensorState, type TensorUpdate } from "./batched-run.js";
import { proxGradFixedPoint, type ObjectiveFn, type ProjectionFn, type ProxFn } from "./conditions.js";

/** Options of {@link ProximalGradient}. */
export interface ProximalGradientOptions extends SolverOptions {
  /** The smooth part f(params, ...args), a scalar. */
  fun: ObjectiveFn;
  /** prox(x, hyperparamsProx, scaling) of the non-smooth part g (default: the identity, g = 0). */
  prox?: ProxFn;
  /**
   * A fixed step size (≤ 1/L for convergence) or a schedule k ↦ η_k (a function of the iteration number); omit
   * it for backtracking on the smooth part.
   */
  stepsize?: number | StepsizeSchedule;
  /** FISTA acceleration (default true). */
  acceleration?: boolean;
  /** Backtracking: the smallest factor applied to a rejected step; a search starts at the last step over it (default 0.5). */
  decreaseFactor?: number;
  /** Backtracking: cap on the initial step, the inverse curvature of f along ∇f at `init` (default 1e4). */
  maxStepsize?: number;
  /** Backtracking: trial steps per search (default 30). */
  maxBacktrackingIter?: number;
}

const PROXIMAL_GRADIENT_KEYS = [
  "fun",
  "prox",
  "stepsize",
  "acceleration",
  "decreaseFactor",
  "maxStepsize",
  "maxBacktrackingIter",
] as const satisfies readonly (keyof ProximalGradientOptions)[];

/** The number fields of {@link ProximalGradientState} (besides `iterNum`). */
const PROXIMAL_GRADIENT_SCALARS = ["error", "value", "stepsize", "momentum"] as const;

/** The state of {@link ProximalGradient} and {@link ProjectedGradient}. */
export interface ProximalGradientState extends SolverState {
  /** f at the point the next step starts from. */
  value: number;
  /** ∇f at the point the next step starts from (the iterate, or the extrapolated point with acceleration). */
  grad: Tree;
  /** The last step size taken. */
  stepsize: number;
  /** Acceleration: the extrapolated point and the momentum sequence value. */
  extrapolated: Tree;
  momentum: number;
}

const identityProx: ProxFn = (x) => x;

/**
 * Proximal gradient for min_x f(x, ...args) + g(x, hyperparamsProx): x ← prox_{ηg}(x − η∇f(x)), with FISTA
 * acceleration (default, with O'Donoghue–Candès adaptive restart: the momentum is reset when the step goes
 * against it) and, without a fixed step, backtracking on the smooth part: the step is accepted when
 * f(x⁺) ≤ f(x) + ⟨∇f(x), x⁺ − x⟩ + ‖x⁺ − x‖²/2η, starting from the inverse curvature of f along ∇f at `init`;
 * each later search starts one `decreaseFactor` above the last accepted step (so the step grows back after a
 * rejection, as in JAXopt) and a rejected step is replaced by the inverse of the curvature it measured when that
 * lies between 0.9η and `decreaseFactor`·η. Call
 * `run(init, hyperparamsProx, ...args)` as in JAXopt.
 * `error` is the gradient-mapping norm ‖x⁺ − x‖/η at the point the step started from. The implicit derivative
 * uses the fixed point {@link proxGradFixedPoint} with the fixed step (or the last step taken); its backward
 * system is not symmetric.
 *
 * @example
 * ```ts
 * import { ProximalGradient, objective, prox, grad, tensor } from "diffopt";
 * const X = tensor([[1, 0.5], [0, 2], [1, 1]]);
 * const y = tensor([1, 2, 3]);
 * const lasso = new ProximalGradient({ fun: objective.leastSquares, prox: prox.lasso, tol: 1e-10 });
 * const { params } = lasso.run(tensor([0, 0]), tensor(0.1), [X, y]);
 * // derivative of the lasso solution with respect to the L1 regularisation
 * grad((l1) => lasso.run(tensor([0, 0]), l1, [X, y]).params.sum())(tensor(0.1));
 * ```
 */
export class ProximalGradient extends Solver<ProximalGradientState> {
  readonly fun: ObjectiveFn;
  readonly prox: ProxFn;
  readonly stepsize: number | StepsizeSchedule | undefined;
  private readonly schedule: Stepsize | undefined;
  readonly acceleration: boolean;
  readonly decreaseFactor: number;
  readonly maxStepsize: number;
  readonly maxBacktrackingIter: number;

  /** `name` (used in messages) is set by subclasses. */
  constructor(opts: ProximalGradientOptions, name = "ProximalGradient") {
    super(name, opts, {
      keys: PROXIMAL_GRADIENT_KEYS,
      functions: opts?.prox === undefined ? ["fun"] : ["fun", "prox"],
    });
    this.fun = opts.fun;
    this.prox = opts.prox ?? identityProx;
    this.stepsize = opts.stepsize;
    this.schedule = opts.stepsize === undefined ? undefined : stepsizeOption(opts.stepsize, name);
    this.acceleration = opts.acceleration ?? true;
    this.decreaseFactor = unitIntervalOption(opts.decreaseFactor ?? 0.5, name, "decreaseFactor");
    this.maxStepsize = positiveOption(opts.maxStepsize ?? 1e4, name, "maxStepsize");
    this.maxBacktrackingIter = opts.maxBacktrackingIter ?? 30;
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, hyperparamsProx: any, ...args: any[]): ProximalGradientState {
    return numberFields(this.start(init, [hyperparamsProx, ...args]), PROXIMAL_GRADIENT_SCALARS);
  }

  /** The initial state; with ops only (so that it batches) when the step is fixed or scheduled. */
  private start(init: Tree, [hyperparamsProx, ...args]: readonly Tree[]): TensorState<ProximalGradientState> {
    const [v, g] = objectiveValueAndGrad(this.fun, init, args, this.name);
    const eta = this.schedule?.at(0) ?? this.initialStepsize(init, g, args);
    const step = this.prox(sub(init, scale(eta, g)), hyperparamsProx, eta);
    return {
      iterNum: 0,
      error: div(norm(stopGradient(sub(step, init))), eta),
      status: "maxIterReached",
      value: stopGradient(v),
      grad: g,
      stepsize: tensor(eta),
      extrapolated: init,
      momentum: tensor(1),
    };
  }

  /** 1 / (curvature of f along ∇f at x), capped at `maxStepsize` (1 when that curvature is not positive). */
  private initialStepsize(x: Tree, g: Tree, args: readonly Tree[]): number {
    if (normOf(g) === 0) return 1;
    const c = curvatureAlong(this.fun, x, g, args);
    return c > 0 ? Math.min(1 / c, this.maxStepsize) : 1;
  }

  /** The step size for this update: fixed, or found by backtracking on plain values. */
  private chooseStepsize(
    base: Tree,
    state: ProximalGradientState,
    hyperparamsProx: Tree,
    args: readonly Tree[],
  ): number {
    if (this.schedule !== undefined) return this.schedule.at(state.iterNum);
    const x = stopGradient(base);
    const g = stopGradient(state.grad);
    const hp = stopGradient(hyperparamsProx as Tree);
    const plainArgs = stopGradient([...args] as Tree) as Tree[];
    // Each search starts one factor above the last accepted step, so that the step can grow back after a
    // rejection (as JAXopt's does): a step fixed by one pessimistic rejection would slow every later update.
    let eta = Math.min(state.stepsize / this.decreaseFactor, this.maxStepsize);
    for (let i = 0; i < this.maxBacktrackingIter; i++) {
      const cand = this.prox(sub(x, scale(eta, g)), hp, eta);
      const diff = sub(cand, x);
      const linear = state.value + stopGradient(vdot(g, diff)).item();
      const sq = normOf(diff) ** 2;
      const model = linear + (sq / (2 * eta)) * (1 + LIPSCHITZ_MARGIN);
      const fc = stopGradient(this.fun(cand, ...plainArgs)).item();
      // Within rounding, f(x⁺) − f(x) − ⟨g, d⟩ ≈ ⟨∇f(x⁺) − g, d⟩/2 (trapezoid rule).
      const ok = decideBelow(fc, model, state.value) ?? this.trapezoidTest(cand, g, diff, eta, plainArgs);
      if (ok) break;
      // The rejected trial measured the curvature of f along d, c = 2(f(x⁺) − f(x) − ⟨g, d⟩)/‖d‖² > 1/η: try
      // 1/c when it lies between one factor below and 0.9η (a halving grid alone can settle at half of 1/L).
      const inverseCurvature = sq / (2 * (fc - linear));
      const guess = inverseCurvature > 0 ? Math.min(0.9 * eta, inverseCurvature) : 0;
      if (i + 1 < this.maxBacktrackingIter) eta = Math.max(eta * this.decreaseFactor, guess);
    }
    return eta;
  }

  /** ⟨∇f(x⁺) − ∇f(x), d⟩/2 ≤ ‖d‖²/2η, the quadratic upper-bound test estimated from gradients. */
  private trapezoidTest(cand: Tree, g: Tree, diff: Tree, eta: number, plainArgs: Tree[]): boolean {
    const [, gc] = objectiveValueAndGrad(this.fun, cand, plainArgs, this.name);
    return (
      stopGradient(vdot(sub(gc, g), diff)).item() <=
      (normOf(diff) ** 2 / eta) * (1 + LIPSCHITZ_MARGIN) + gradientSlack(gc, g, diff)
    );
  }

  update(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    params: any,
    state: ProximalGradientState,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    hyperparamsProx: any,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    ...args: any[]
  ): SolverResult<ProximalGradientState> {
    const base: Tree = this.acceleration ? state.extrapolated : params;
    const eta = this.chooseStepsize(base, state, hyperparamsProx, args);
    const r = this.advance(params, tensorFields(state, PROXIMAL_GRADIENT_SCALARS), eta, [hyperparamsProx, ...args]);
    return { params: r.params, state: numberFields(r.state, PROXIMAL_GRADIENT_SCALARS) };
  }

  /** @internal With a fixed step or a schedule the update is arithmetic: `run` under `vmap` batches it. */
  protected override tensorUpdate(): TensorUpdate<ProximalGradientState> | undefined {
    const schedule = this.schedule;
    if (schedule === undefined) return undefined;
    return {
      scalars: PROXIMAL_GRADIENT_SCALARS,
      init: (x0, args) => this.start(x0, args),
      update: (params, state, args) => this.advance(params, state, schedule.at(state.iterNum), args),
    };
  }

  /**
   * The update with step η, with ops only (so that it batches); `args` are `[hyperparamsProx, ...args of fun]`.
   * The adaptive restart is per element: a `where` on the sign of ⟨x − x⁺, x⁺ − x_prev⟩.
   */
  private advance(
    params: Tree,
    state: TensorState<ProximalGradientState>,
    eta: number,
    [hyperparamsProx, ...args]: readonly Tree[],
  ): { params: Tree; state: TensorState<ProximalGradientState> } {
    const base: Tree = this.acceleration ? state.extrapolated : params;
    const next = this.prox(sub(base, scale(eta, state.grad)), hyperparamsProx, eta);
    const error = div(norm(stopGradient(sub(next, base))), eta);
    let point: Tree = next;
    let momentum = state.momentum;
    if (this.acceleration) {
      // Adaptive restart: drop the momentum when the step x⁺ − y points against the last move x⁺ − x.
      const against = greater(vdot(stopGradient(sub(base, next)), stopGradient(sub(next, params))), 0);
      const grown = nextMomentum(state.momentum);
      momentum = where(against, 1, grown);
      const pushed = add(next, scale(div(subOp(state.momentum, 1), grown), sub(next, params)));
      point = map((n, p) => where(against, n, p), next, pushed);
    }
    const [v, g] = objectiveValueAndGrad(this.fun, point, args, this.name);
    return {
      params: next,
      state: {
        ...state,
        iterNum: state.iterNum + 1,
        error,
        value: stopGradient(v),
        grad: g,
        stepsize: tensor(eta),
        extrapolated: point,
        momentum,
      },
    };
  }

  /**
   * T(params) − params for the proximal-gradient fixed point T with the fixed step (1 without one, or with a
   * schedule): zero at a solution.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, hyperparamsProx: any, ...args: any[]): Tree {
    const T = proxGradFixedPoint(this.fun, this.prox, this.schedule?.fixed ?? 1);
    return sub(T(params, hyperparamsProx, ...args), params);
  }

  protected override implicitCondition(state: ProximalGradientState): (x: Tree, ...args: Tree[]) => Tree {
    const T = proxGradFixedPoint(this.fun, this.prox, this.schedule?.fixed ?? state.stepsize);
    return (x, hyperparamsProx, ...args) => sub(T(x, hyperparamsProx, ...args), x);
  }

  protected implicitHints(): ImplicitOptions {
    return {};
  }
}

/** Options of {@link ProjectedGradient}. */
export interface ProjectedGradientOptions extends Omit<ProximalGradientOptions, "prox"> {
  /**
   * projection(x, hyperparamsProj) onto the feasible set, as `projection.simplex(x, value)`; a null
   * `hyperparamsProj` is passed as undefined (the projection's default).
   */
  projection: ProjectionFn;
}

/**
 * Projected gradient for min_x f(x, ...args) over C(hyperparamsProj): proximal gradient whose prox is the
 * projection (with FISTA acceleration and backtracking by default). Call `run(init, hyperparamsProj, ...args)`.
 * The implicit derivative uses {@link projectedGradientFixedPoint}.
 *
 * @example
 * ```ts
 * import { ProjectedGradient, objective, projection, tensor } from "diffopt";
 * const X = tensor([[1, 0.5], [0, 2], [1, 1]]);
 * const y = tensor([1, 2, 3]);
 * const solver = new ProjectedGradient({ fun: objective.leastSquares, projection: projection.simplex });
 * solver.run(tensor([0.5, 0.5]), tensor(1), [X, y]).params; // least squares over the simplex
 * ```
 */
export class ProjectedGradient extends ProximalGradient {
  readonly projection: ProjectionFn;

  constructor(opts: ProjectedGradientOptions) {
    checkFunction(opts?.projection, "ProjectedGradient", "options.projection");
    const { projection, ...rest } = opts;
    super({ ...rest, prox: (x, hyperparamsProj) => projection(x, hyperparamsProj ?? undefined) }, "ProjectedGradient");
    this.projection = projection;
  }
}

/**
 * Mirror descent: the KL (entropic) geometry on products of simplices by default, or any mirror map given as a
 * `projectionGrad` (JAXopt's convention; build one with {@link makeProjectionGrad}).
 * @module
 */
import { ValueError } from "../core/errors.js";
import { Tensor, asTensor, tensor } from "../core/tensor.js";
import { div } from "../core/ops/elementwise.js";
import { grad, stopGradient } from "../core/transforms.js";
import { norm, scale, sub, vdot, type Tree } from "../core/tree.js";
import type { ImplicitOptions } from "../implicit/root.js";
import { Solver, type SolverOptions, type SolverResult, type SolverState } from "./base.js";
import {
  countOption,
  curvatureAlong,
  isConcrete,
  normOf,
  objectiveValueAndGrad,
  positiveOption,
  unitIntervalOption,
} from "./common.js";
import { checkSimplexRows, klMirrorStep, type ObjectiveFn, type ProjectionFn } from "./conditions.js";
import { LIPSCHITZ_MARGIN, decideBelow, gradientSlack } from "./linesearch.js";
import { stepsizeOption, type Stepsize, type StepsizeSchedule } from "./schedule.js";
import { numberFields, tensorFields, type TensorState, type TensorUpdate } from "./batched-run.js";

/**
 * One mirror-descent step x⁺ = projectionGrad(x, ∇f(x), η, hyperparamsProj): the Bregman projection onto the
 * feasible set of the point whose mirror image is ∇φ(x) − η∇f(x).
 */
// `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProjectionGradFn = (x: any, grad: any, stepsize: number, hyperparamsProj: any) => Tree;

/**
 * The mirror step of a mirror map φ (JAXopt's `make_projection_grad`): `mappingFun` is ∇φ (from the primal to
 * the dual space), `projection(z, hyperparamsProj)` maps a dual point z back, Bregman-projected onto the feasible
 * set (argmin over the set of φ(x) − ⟨z, x⟩). The step is projection(mappingFun(x) − η·g, hyperparamsProj).
 * With `mappingFun` the identity and a Euclidean projection, mirror descent is projected gradient; with
 * `log` and a row-wise softmax, it is the KL geometry on the simplex.
 *
 * @example
 * ```ts
 * import { MirrorDescent, makeProjectionGrad, projection, sum, square, sub, tensor, type Tensor } from "diffopt";
 * // the Euclidean mirror map on the simplex (projected gradient)
 * const euclidean = makeProjectionGrad(projection.simplex, (x) => x);
 * const f = (x: Tensor, c: Tensor) => sum(square(sub(x, c))).mul(0.5);
 * const solver = new MirrorDescent({ fun: f, stepsize: 1, projectionGrad: euclidean, tol: 1e-12 });
 * solver.run(tensor([1, 0, 0]), tensor(1), tensor([0.6, 0.5, -0.2])).params.toArray(); // ≈ [0.55, 0.45, 0]
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function makeProjectionGrad(projection: ProjectionFn, mappingFun: (x: any) => Tree): ProjectionGradFn {
  return (x, g, stepsize, hyperparamsProj) =>
    projection(sub(mappingFun(x), scale(stepsize, g)), hyperparamsProj ?? undefined);
}

/** Options of {@link MirrorDescent}. */
export interface MirrorDescentOptions extends SolverOptions {
  /** The objective f(params, ...args), a scalar (with the KL default, a tensor whose rows lie on the simplex). */
  fun: ObjectiveFn;
  /**
   * The step size η (≤ 1/L, with f L-smooth relative to the mirror map, for convergence), or a schedule k ↦ η_k (a
   * function of the iteration number); omit it for backtracking (KL geometry only, see {@link MirrorDescent}).
   */
  stepsize?: number | StepsizeSchedule;
  /** Backtracking: the smallest factor applied to a rejected step; a search starts at the last step over it (default 0.5). */
  decreaseFactor?: number;
  /** Backtracking: cap on every step, and on the initial one (the inverse relative curvature of f at `init`) (default 1e4). */
  maxStepsize?: number;
  /** Backtracking: trial steps per search; when none is accepted the run stops with status "stalled" (default 30). */
  maxBacktrackingIter?: number;
  /**
   * The mirror step (see {@link makeProjectionGrad}); default: the KL geometry on the rows of x. With one,
   * call `run(init, hyperparamsProj, ...args)` (as JAXopt's MirrorDescent): hyperparamsProj goes to the
   * projection, args to `fun`.
   */
  projectionGrad?: ProjectionGradFn;
}

const MIRROR_DESCENT_KEYS = [
  "fun",
  "stepsize",
  "projectionGrad",
  "decreaseFactor",
  "maxStepsize",
  "maxBacktrackingIter",
] as const satisfies readonly (keyof MirrorDescentOptions)[];

/** The number fields of {@link MirrorDescentState} (besides `iterNum`). */
const MIRROR_DESCENT_SCALARS = ["error", "value", "stepsize"] as const;

/** The state of {@link MirrorDescent}. */
export interface MirrorDescentState extends SolverState {
  value: number;
  /** ∇f at the current iterate. */
  grad: Tree;
  /** The last step size taken (in `init`, the first one: fixed, scheduled, or backtracking's initial estimate). */
  stepsize: number;
  /** Backtracking: why the run stalled (no trial step passed the test), set only then. */
  message?: string;
}

/**
 * Mirror descent for min f(x, ...args) over a set given by its mirror map. By default the KL geometry on
 * x ∈ (△ᵏ)ᵐ (each row of x on the probability simplex): x ← softmax(log x − η∇f(x)) row-wise, the
 * exponentiated-gradient update, computed in a stable multiplicative form (no logarithm of zero, no overflow).
 * Its iterates keep every zero coordinate of `init` at zero forever, so a start on a face of the simplex (such as
 * a vertex) could stop at a non-optimal point that is a fixed point of the update: `init` must have positive
 * entries (a `ValueError` says so otherwise). With `projectionGrad`, any mirror map (see
 * {@link makeProjectionGrad}) and `run(init, hyperparamsProj, ...args)`.
 *
 * Without `stepsize` (KL geometry only), every step is found by backtracking on the upper bound of relative
 * smoothness (Bauschke, Bolte and Teboulle 2017; Lu, Freund and Nesterov 2018): η is accepted when
 * f(x⁺) ≤ f(x) + ⟨∇f(x), x⁺ − x⟩ + KL(x⁺‖x)/η. Since x⁺ minimises ⟨∇f(x), y⟩ + KL(y‖x)/η over the simplices, an
 * accepted step decreases f, and every η ≤ 1/L passes when f is L-smooth relative to the entropy, so the search
 * ends. The first trial is the inverse of the relative curvature of f at `init` along the mirror direction
 * x ∘ (∇f − ⟨x, ∇f⟩) (the ratio of f's second-order term to the KL's), capped at `maxStepsize`; each later search
 * starts one `decreaseFactor` above the last accepted step, so the step grows wherever the local curvature allows
 * it (the KL's curvature 1/xᵢ grows as coordinates decay towards zero: on the paper's SVM dual the steps are
 * 5–8× the global 1/L near its sparse solution). A rejected step is replaced by the inverse of the relative curvature it measured
 * when that lies between `decreaseFactor`·η and 0.9η. When no trial of a search passes, the run stops with status
 * "stalled" at the last iterate and `state.message` says why. The search reads numbers, so `run` under `vmap`
 * loops over the batch elements, and in unrolled mode the chosen steps are constants of the derivative.
 *
 * `error` is ‖x⁺ − x‖/η at the step taken (with backtracking, as with `ProximalGradient`'s, a larger step gives a
 * smaller error at the same x). The implicit derivative uses the fixed point T(x) = step(x, ∇f(x), η) with the
 * fixed step, or the last one taken (any positive step has the same fixed points; a larger one conditions the
 * backward system better, see `mirrorDescentFixedPoint`).
 *
 * @example
 * ```ts
 * import { MirrorDescent, sum, square, sub, tensor, type Tensor } from "diffopt";
 * // the point of the simplex nearest to c
 * const f = (x: Tensor, c: Tensor) => sum(square(sub(x, c))).mul(0.5);
 * const solver = new MirrorDescent({ fun: f, stepsize: 1, tol: 1e-9, maxIter: 5000 });
 * solver.run(tensor([1 / 3, 1 / 3, 1 / 3]), tensor([0.6, 0.5, -0.2])).params; // ≈ [0.55, 0.45, 0]
 * // the same by backtracking (43 iterations instead of 71), and the step it settled on
 * const bt = new MirrorDescent({ fun: f, tol: 1e-9, maxIter: 5000 });
 * const { params, state } = bt.run(tensor([1 / 3, 1 / 3, 1 / 3]), tensor([0.6, 0.5, -0.2]));
 * params; // ≈ [0.55, 0.45, 0]
 * state.stepsize; // > 1
 * ```
 */
export class MirrorDescent extends Solver<MirrorDescentState> {
  readonly fun: ObjectiveFn;
  readonly stepsize: number | StepsizeSchedule | undefined;
  readonly projectionGrad: ProjectionGradFn | undefined;
  readonly decreaseFactor: number;
  readonly maxStepsize: number;
  readonly maxBacktrackingIter: number;
  /** The fixed step or schedule; undefined for backtracking. */
  private readonly schedule: Stepsize | undefined;

  constructor(opts: MirrorDescentOptions) {
    super("MirrorDescent", opts, { keys: MIRROR_DESCENT_KEYS, functions: ["fun"] });
    this.fun = opts.fun;
    this.stepsize = opts.stepsize;
    this.schedule = opts.stepsize === undefined ? undefined : stepsizeOption(opts.stepsize, this.name);
    this.projectionGrad = opts.projectionGrad;
    if (this.schedule === undefined && this.projectionGrad !== undefined)
      throw new ValueError(
        `${this.name}: backtracking (no stepsize) tests the KL geometry's Bregman divergence and cannot be used with a projectionGrad; give a stepsize`,
      );
    this.decreaseFactor = unitIntervalOption(opts.decreaseFactor ?? 0.5, this.name, "decreaseFactor");
    this.maxStepsize = positiveOption(opts.maxStepsize ?? 1e4, this.name, "maxStepsize");
    this.maxBacktrackingIter = countOption(opts.maxBacktrackingIter, 30, this.name, "maxBacktrackingIter");
  }

  /** [hyperparamsProj, args of fun] from the arguments after params. */
  private split(args: readonly Tree[]): [Tree, Tree[]] {
    return this.projectionGrad === undefined ? [undefined, [...args]] : [args[0], args.slice(1)];
  }

  private step(x: Tree, g: Tree, eta: number, hyperparamsProj: Tree): Tree {
    return this.projectionGrad === undefined
      ? klMirrorStep(asTensor(x as Tensor), g as Tensor, eta)
      : this.projectionGrad(x, g, eta, hyperparamsProj);
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): MirrorDescentState {
    const [hp, funArgs] = this.split(args);
    if (this.projectionGrad === undefined) checkInterior(asTensor(init), this.name);
    const [v, g] = objectiveValueAndGrad(this.fun, init, funArgs, this.name);
    const eta = this.schedule?.at(0) ?? this.initialStepsize(init, g, funArgs);
    const next = this.step(init, g, eta, hp);
    return {
      iterNum: 0,
      error: normOf(sub(next, init)) / eta,
      status: "maxIterReached",
      value: stopGradient(v).item(),
      grad: g,
      stepsize: eta,
    };
  }

  /**
   * Backtracking's first trial at x (KL geometry): 1/c for the relative curvature c = vᵀ∇²f v / Σᵢ vᵢ²/xᵢ of f
   * along the mirror direction v = x ∘ (g − ⟨x, g⟩) (row-wise), the ratio of f's second-order term to the KL's
   * (KL(x + v‖x) ≈ ½Σᵢ vᵢ²/xᵢ); capped at `maxStepsize`, and 1 (capped) when c is not positive.
   */
  private initialStepsize(x: Tree, g: Tree, args: readonly Tree[]): number {
    const xp = stopGradient(asTensor(x as Tensor));
    const v = mirrorDirection(xp.raw, stopGradient(g as Tensor).raw, xp.shape[xp.ndim - 1]!);
    let klCurvature = 0;
    v.forEach((vi, i) => {
      if (vi !== 0) klCurvature += (vi * vi) / xp.raw[i]!;
    });
    if (!(klCurvature > 0)) return Math.min(1, this.maxStepsize);
    const vt = tensor(v, xp.shape);
    const c = (curvatureAlong(this.fun, xp, vt, args) * normOf(vt) ** 2) / klCurvature;
    return c > 0 ? Math.min(1 / c, this.maxStepsize) : Math.min(1, this.maxStepsize);
  }

  /**
   * Backtracking from x = params: the accepted step and its candidate x⁺, or why no trial passed. With `reuse`
   * (plain values: the candidate will be the update) each trial evaluates f and ∇f together and the accepted
   * one's are returned for the next state; otherwise (unrolling, which recomputes them traced) a trial evaluates
   * f alone, and ∇f only when the test needs it.
   */
  private backtrack(
    params: Tree,
    state: MirrorDescentState,
    args: readonly Tree[],
    reuse: boolean,
  ): { eta: number; next: Tensor; value?: Tensor; grad?: Tree } | { message: string } {
    const x = stopGradient(asTensor(params as Tensor));
    const g = stopGradient(state.grad as Tensor);
    const k = x.shape[x.ndim - 1]!;
    const plainArgs = stopGradient([...args] as Tree) as Tree[];
    const first = Math.min(state.stepsize / this.decreaseFactor, this.maxStepsize);
    let eta = first;
    for (let i = 0; i < this.maxBacktrackingIter; i++) {
      const cand = klMirrorStep(x, g, eta);
      const diff = sub(cand, x);
      const linear = state.value + stopGradient(vdot(g, diff)).item();
      const kl = klOfMirrorStep(x.raw, cand.raw, g.raw, eta, k);
      const bound = linear + (kl / eta) * (1 + LIPSCHITZ_MARGIN);
      let value: Tensor | undefined;
      let gc: Tree | undefined;
      if (reuse) [value, gc] = objectiveValueAndGrad(this.fun, cand, plainArgs, this.name);
      const fc = stopGradient(value ?? this.fun(cand, ...plainArgs)).item();
      // Within rounding, f(x⁺) − f(x) − ⟨g, d⟩ ≈ ⟨∇f(x⁺) − g, d⟩/2 (trapezoid rule).
      const trapezoid = () => {
        const gn = gc ?? objectiveValueAndGrad(this.fun, cand, plainArgs, this.name)[1];
        const lhs = stopGradient(vdot(sub(gn, g), diff)).item() / 2;
        return lhs <= (kl / eta) * (1 + LIPSCHITZ_MARGIN) + gradientSlack(gn, g, diff);
      };
      if (decideBelow(fc, bound, state.value) ?? trapezoid()) return { eta, next: cand, value, grad: gc };
      // The rejected trial measured the relative curvature c = (f(x⁺) − f(x) − ⟨g, d⟩)/KL(x⁺‖x) > 1/η: try 1/c
      // when it lies between one factor below and 0.9η (NaN, from a non-finite f, falls back to the factor).
      const inverse = kl / (fc - linear);
      eta = Math.max(eta * this.decreaseFactor, inverse > 0 ? Math.min(0.9 * eta, inverse) : 0);
    }
    return {
      message: `${this.name}: stalled at iteration ${state.iterNum + 1}: no step from ${first} down to ${eta / this.decreaseFactor} (${this.maxBacktrackingIter} trials) met the relative-smoothness bound f(x⁺) ≤ f(x) + ⟨∇f(x), x⁺ − x⟩ + KL(x⁺‖x)/η; check that f is smooth and finite on the simplex, or raise maxBacktrackingIter`,
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: MirrorDescentState, ...args: any[]): SolverResult<MirrorDescentState> {
    let eta: number;
    if (this.schedule !== undefined) eta = this.schedule.at(state.iterNum);
    else {
      const plain = isConcrete(params) && isConcrete(args);
      const found = this.backtrack(params, state, this.split(args)[1], plain);
      if (!("eta" in found))
        return { params, state: { ...state, iterNum: state.iterNum + 1, status: "stalled", message: found.message } };
      eta = found.eta;
      if (found.value !== undefined && found.grad !== undefined) {
        // Plain values: the accepted trial is the update, its f and ∇f the next state's.
        const error = normOf(sub(found.next, params)) / eta;
        const value = found.value.item();
        const next = { iterNum: state.iterNum + 1, error, value, grad: found.grad, stepsize: eta };
        return { params: found.next, state: { ...state, ...next } };
      }
    }
    const r = this.advance(params, tensorFields(state, MIRROR_DESCENT_SCALARS), eta, args);
    return { params: r.params, state: numberFields(r.state, MIRROR_DESCENT_SCALARS) };
  }

  /**
   * @internal With a fixed step or a schedule the update is arithmetic: `run` under `vmap` batches it (`init` checks
   * that the start is interior, so it runs per element). Backtracking reads numbers: undefined (the loop).
   */
  protected override tensorUpdate(): TensorUpdate<MirrorDescentState> | undefined {
    const schedule = this.schedule;
    if (schedule === undefined) return undefined;
    return {
      scalars: MIRROR_DESCENT_SCALARS,
      update: (params, state, args) => this.advance(params, state, schedule.at(state.iterNum), args),
    };
  }

  /** One mirror step with step η, with ops only (so that it batches). */
  private advance(
    params: Tree,
    state: TensorState<MirrorDescentState>,
    eta: number,
    args: readonly Tree[],
  ): { params: Tree; state: TensorState<MirrorDescentState> } {
    const [hp, funArgs] = this.split(args);
    const next = this.step(params, state.grad, eta, hp);
    const error = div(norm(stopGradient(sub(next, params))), eta);
    const [v, g] = objectiveValueAndGrad(this.fun, next, funArgs, this.name);
    return {
      params: next,
      state: {
        ...state,
        iterNum: state.iterNum + 1,
        error,
        value: stopGradient(v),
        grad: g,
        stepsize: tensor(eta),
      },
    };
  }

  /** The fixed-point residual T(x) − x of the mirror step with step size η. */
  private residual(eta: number): (x: Tree, ...args: Tree[]) => Tree {
    return (x, ...args) => {
      const [hp, funArgs] = this.split(args);
      return sub(this.step(x, grad(this.fun)(x, ...funArgs) as Tree, eta, hp), x);
    };
  }

  /**
   * T(params) − params for the mirror step T with the fixed step (the schedule's first one; with backtracking, its
   * first trial at params): zero at a solution.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, ...args: any[]): Tree {
    const eta =
      this.schedule?.at(0) ?? this.initialStepsize(params, grad(this.fun)(stopGradient(params), ...args) as Tree, args);
    return this.residual(eta)(params, ...args);
  }

  protected override implicitCondition(state: MirrorDescentState): (x: Tree, ...args: Tree[]) => Tree {
    return this.residual(state.stepsize);
  }

  protected implicitHints(): ImplicitOptions {
    return {};
  }
}

/** The mirror direction x ∘ (g − ⟨x, g⟩) row-wise (rows of length k), the KL step's first-order term up to −η. */
function mirrorDirection(x: Float64Array, g: Float64Array, k: number): Float64Array {
  const v = new Float64Array(x.length);
  for (let r = 0; r < x.length; r += k) {
    let mean = 0;
    for (let j = r; j < r + k; j++) mean += x[j]! * g[j]!;
    for (let j = r; j < r + k; j++) v[j] = x[j]! * (g[j]! - mean);
  }
  return v;
}

/**
 * KL(x⁺‖x) summed over the rows (of length k) for the KL mirror step x⁺ of x with step η along g, from the step's
 * closed form: with tⱼ = −η(gⱼ − ⟨x, g⟩), log(x⁺ⱼ/xⱼ) = tⱼ − log Σⱼ xⱼ e^{tⱼ}, so KL = Σⱼ x⁺ⱼ tⱼ − log Σⱼ xⱼ e^{tⱼ}.
 * The centring makes both terms O(η²) for small steps, and the logarithm is log1p(Σ xⱼ expm1(tⱼ)) there (shifted by
 * the largest tⱼ for large steps), so that the divergence keeps its relative accuracy where a difference of
 * logarithms would cancel. Zero coordinates (which stay zero) contribute nothing.
 */
function klOfMirrorStep(x: Float64Array, next: Float64Array, g: Float64Array, eta: number, k: number): number {
  let kl = 0;
  const t = new Float64Array(k);
  for (let r = 0; r < x.length; r += k) {
    let mean = 0;
    for (let j = 0; j < k; j++) mean += x[r + j]! * g[r + j]!;
    let top = -Infinity;
    for (let j = 0; j < k; j++) {
      t[j] = -eta * (g[r + j]! - mean);
      if (x[r + j]! > 0) top = Math.max(top, t[j]!);
    }
    let s = 0;
    for (let j = 0; j < k; j++)
      if (x[r + j]! > 0) s += x[r + j]! * (top <= 1 ? Math.expm1(t[j]!) : Math.exp(t[j]! - top));
    const logZ = top <= 1 ? Math.log1p(s) : top + Math.log(s);
    for (let j = 0; j < k; j++) if (x[r + j]! > 0) kl += next[r + j]! * (t[j]! - logZ);
  }
  return Math.max(kl, 0);
}

/**
 * Rows on the simplex with positive entries: the KL update multiplies coordinates, so a zero stays zero and a
 * start on a face (a vertex, say) would report convergence at a non-optimal fixed point with a zero derivative.
 */
function checkInterior(x: Tensor, who: string): void {
  checkSimplexRows(x, who, "init");
  const j = x.raw.findIndex((v) => v === 0);
  if (j >= 0) {
    const k = x.shape[x.ndim - 1]!;
    throw new ValueError(
      `${who}: init has a zero entry (flat index ${j}); the KL geometry keeps zero coordinates at zero, so the run could stop at a non-optimal point of the simplex's face. Start in the interior, e.g. (1 − ε)·init + ε/${k} with ε = 1e-3`,
    );
  }
}

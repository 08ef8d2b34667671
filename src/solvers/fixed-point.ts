/**
 * Fixed-point solvers of x = T(x, ...args): plain (optionally damped) iteration, and Anderson acceleration, which
 * extrapolates from the last few iterates and residuals. Both are differentiated through the family's condition
 * T(x) − x = 0 (see `families.ts`), never through their iterations unless `implicitDiff: false`.
 *
 * Anderson's mixing step is shared with {@link AndersonWrapper} (which uses any solver's update as T).
 * @module
 */
import { Tensor } from "../core/tensor.js";
import { stopGradient } from "../core/transforms.js";
import { add, norm, scale, sub, type Tree } from "../core/tree.js";
import { stack } from "../core/ops/join.js";
import { matmul } from "../core/ops/matmul.js";
import { eye, ones } from "../core/tensor.js";
import { solve } from "../linalg/dense/lu.js";
import type { SolverOptions, SolverResult, SolverState } from "./base.js";
import { countOption, positiveOption } from "./common.js";
import { numberFields, tensorFields, type TensorState, type TensorUpdate } from "./batched-run.js";
import { FixedPointSolver, raveler, type VectorFieldFn } from "./families.js";
import { ValueError } from "../core/errors.js";

/** The number fields of {@link FixedPointState} (besides `iterNum`). */
const FIXED_POINT_SCALARS = ["error"] as const;

/** The state of {@link FixedPointIteration}. */
export interface FixedPointState extends SolverState {
  /** T(x) at the current iterate x (the next undamped iterate). */
  next: Tree;
}

/**
 * @internal T(x, ...args) with a check that it is shaped like x; returns [T(x), ‖T(x) − x‖] (the norm as a 0-d tensor
 * without derivative, so that it batches).
 */
function evaluate(T: VectorFieldFn, x: Tree, args: readonly Tree[], who: string): [Tree, Tensor] {
  const tx = T(x, ...args);
  raveler(x, who).ravel(tx, "fixedPointFun(x, ...args)");
  return [tx, norm(stopGradient(sub(tx, x)))];
}

/** Options of {@link FixedPointIteration}. */
export interface FixedPointIterationOptions extends SolverOptions {
  /** The map T(x, ...args), a pytree shaped like x, whose fixed point is sought. */
  fixedPointFun: VectorFieldFn;
  /**
   * Damping d ∈ [0, 1) (default 0): the update is x ← (1 − d)·T(x) + d·x. Damping makes the iteration converge
   * for some maps that oscillate (∂ₓT with eigenvalues near −1), at the price of a slower rate.
   */
  damping?: number;
}

/**
 * Fixed-point iteration x ← T(x, ...args), optionally damped (x ← (1 − d)T(x) + d·x). Converges when T is a
 * contraction; `error` is ‖T(x) − x‖ at the returned iterate, and each update evaluates T once. The solution is
 * differentiated through T(x*) − x* = 0 (backward operator ∂ₓT − I), whatever the number of iterations.
 *
 * @example
 * ```ts
 * import { FixedPointIteration, cos, grad, tensor } from "diffopt";
 * // x = cos(θx): the derivative of the fixed point in θ, implicitly
 * const solver = new FixedPointIteration({ fixedPointFun: (x, theta) => cos(x.mul(theta)), tol: 1e-12 });
 * const { params, state } = solver.run(tensor(0), tensor(1));
 * console.log(params.item(), state.status); // ≈ 0.7390851332 converged
 * grad((theta) => solver.run(tensor(0), theta).params)(tensor(1)).item(); // ≈ -0.2974743415
 * ```
 */
export class FixedPointIteration extends FixedPointSolver<FixedPointState> {
  readonly damping: number;

  constructor(opts: FixedPointIterationOptions) {
    super("FixedPointIteration", opts?.fixedPointFun, opts, {
      keys: ["fixedPointFun", "damping"] satisfies (keyof FixedPointIterationOptions)[],
      functions: ["fixedPointFun"],
    });
    this.damping = opts.damping ?? 0;
    if (!(this.damping >= 0 && this.damping < 1))
      throw new ValueError(`${this.name}: damping must be in [0, 1), got ${opts.damping}`);
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): FixedPointState {
    return numberFields(this.start(init, args), FIXED_POINT_SCALARS);
  }

  /** The initial state with ops only (so that it batches). */
  private start(init: Tree, args: readonly Tree[]): TensorState<FixedPointState> {
    const [next, error] = evaluate(this.fixedPointFun, init, args, this.name);
    return { iterNum: 0, error, status: "maxIterReached", next };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: FixedPointState, ...args: any[]): SolverResult<FixedPointState> {
    const r = this.advance(params, tensorFields(state, FIXED_POINT_SCALARS), args);
    return { params: r.params, state: numberFields(r.state, FIXED_POINT_SCALARS) };
  }

  /** @internal The update is arithmetic: `run` under `vmap` batches it. */
  protected override tensorUpdate(): TensorUpdate<FixedPointState> {
    return {
      scalars: FIXED_POINT_SCALARS,
      init: (x0, args) => this.start(x0, args),
      update: (params, state, args) => this.advance(params, state, args),
    };
  }

  /** One (damped) iteration with ops only (so that it batches). */
  private advance(
    params: Tree,
    state: TensorState<FixedPointState>,
    args: readonly Tree[],
  ): { params: Tree; state: TensorState<FixedPointState> } {
    const x = this.damping === 0 ? state.next : add(scale(1 - this.damping, state.next), scale(this.damping, params));
    const [next, error] = evaluate(this.fixedPointFun, x, args, this.name);
    return { params: x, state: { ...state, iterNum: state.iterNum + 1, error, next } };
  }
}

/** The last iterates and residuals of an Anderson scheme, as flat vectors, oldest first. */
export interface AndersonHistory {
  xs: readonly Tensor[];
  residuals: readonly Tensor[];
}

/** @internal The history with (x, g = T(x) − x) appended, keeping the newest `size` pairs. */
export function andersonPush(h: AndersonHistory, x: Tensor, g: Tensor, size: number): AndersonHistory {
  const keep = (a: readonly Tensor[], v: Tensor) => [...a, v].slice(-size);
  return { xs: keep(h.xs, x), residuals: keep(h.residuals, g) };
}

/**
 * @internal Anderson's extrapolation from a non-empty history of iterates xᵢ and residuals gᵢ = T(xᵢ) − xᵢ:
 * α = argmin ‖Σαᵢgᵢ‖² + λ‖α‖² subject to Σαᵢ = 1, i.e. α ∝ (GGᵀ + λI)⁻¹1, then x⁺ = Σαᵢ(xᵢ + βgᵢ). The ridge λ
 * is `ridge` times the largest ‖gᵢ‖², so the regularisation does not depend on the scale of the residuals
 * (an absolute λ would swamp the least-squares problem near convergence and reduce it to averaging). Written
 * with differentiable ops so that unrolled derivatives see α's dependence on the iterates.
 */
export function andersonMix(h: AndersonHistory, beta: number, ridge: number): Tensor {
  const k = h.xs.length;
  const lastX = h.xs[k - 1]!;
  const lastG = h.residuals[k - 1]!;
  if (k === 1) return lastX.add(lastG.mul(beta));
  const G = stack(h.residuals as Tensor[]);
  const gram = matmul(G, G.T);
  let biggest = 0;
  const gd = stopGradient(gram).raw;
  for (let i = 0; i < k; i++) biggest = Math.max(biggest, gd[i * k + i]!);
  // Every residual is zero: x is already a fixed point.
  if (biggest === 0) return lastX;
  const w = solve(gram.add(eye(k).mul(ridge * biggest)), ones([k]));
  const alpha = w.div(w.sum());
  return matmul(alpha, stack(h.xs as Tensor[]).add(G.mul(beta)));
}

/** @internal Checks the Anderson options shared by {@link AndersonAcceleration} and {@link AndersonWrapper}. */
export function andersonOptions(
  opts: { historySize?: number; beta?: number; ridge?: number },
  who: string,
): { historySize: number; beta: number; ridge: number } {
  const historySize = countOption(opts.historySize, 5, who, "historySize");
  const ridge = opts.ridge ?? 1e-10;
  if (!(ridge >= 0) || !Number.isFinite(ridge))
    throw new ValueError(`${who}: ridge must be non-negative and finite, got ${ridge}`);
  return { historySize, beta: positiveOption(opts.beta ?? 1, who, "beta"), ridge };
}

/** Options shared by {@link AndersonAcceleration} and {@link AndersonWrapper}. */
export interface AndersonMixingOptions {
  /** Number of past iterates combined, m (default 5). */
  historySize?: number;
  /** Mixing β (default 1): x⁺ = Σαᵢ(xᵢ + β(T(xᵢ) − xᵢ)); β < 1 damps. */
  beta?: number;
  /**
   * Ridge regularisation of the least-squares problem for α, relative to the largest squared residual norm in
   * the history (default 1e-10); raise it when the residuals are nearly collinear.
   */
  ridge?: number;
}

/** @internal The option names of {@link AndersonMixingOptions}. */
export const ANDERSON_MIXING_KEYS = [
  "historySize",
  "beta",
  "ridge",
] as const satisfies readonly (keyof AndersonMixingOptions)[];

/** Options of {@link AndersonAcceleration}. */
export interface AndersonAccelerationOptions extends SolverOptions, AndersonMixingOptions {
  /** The map T(x, ...args), a pytree shaped like x, whose fixed point is sought. */
  fixedPointFun: VectorFieldFn;
}

/** The state of {@link AndersonAcceleration}. */
export interface AndersonState extends FixedPointState {
  /** The last `historySize` iterates and residuals (flat vectors). */
  history: AndersonHistory;
}

/**
 * Anderson acceleration (Anderson mixing, type-II) of the fixed-point iteration x ← T(x, ...args): each update
 * combines the last m iterates so that the combination of their residuals T(xᵢ) − xᵢ is smallest (a ridge-
 * regularised least-squares problem on the simplex's affine hull), which often converges in far fewer
 * evaluations of T than plain iteration, and sometimes where it does not converge at all. One evaluation of T per
 * update; `error` is ‖T(x) − x‖ at the returned iterate. Differentiated through T(x*) − x* = 0.
 *
 * @example
 * ```ts
 * import { AndersonAcceleration, FixedPointIteration, cos, tensor, type Tensor } from "diffopt";
 * const T = (x: Tensor, theta: Tensor) => cos(x.mul(theta));
 * const anderson = new AndersonAcceleration({ fixedPointFun: T, historySize: 3, tol: 1e-10 });
 * const plain = new FixedPointIteration({ fixedPointFun: T, tol: 1e-10 });
 * console.log(anderson.run(tensor(0), tensor(1)).state.iterNum < plain.run(tensor(0), tensor(1)).state.iterNum); // true
 * ```
 */
export class AndersonAcceleration extends FixedPointSolver<AndersonState> {
  readonly historySize: number;
  readonly beta: number;
  readonly ridge: number;

  constructor(opts: AndersonAccelerationOptions) {
    super("AndersonAcceleration", opts?.fixedPointFun, opts, {
      keys: ["fixedPointFun", ...ANDERSON_MIXING_KEYS] satisfies (keyof AndersonAccelerationOptions)[],
      functions: ["fixedPointFun"],
    });
    ({ historySize: this.historySize, beta: this.beta, ridge: this.ridge } = andersonOptions(opts, this.name));
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, ...args: any[]): AndersonState {
    const [next, error] = evaluate(this.fixedPointFun, init, args, this.name);
    const r = raveler(init, this.name);
    const history = andersonPush({ xs: [], residuals: [] }, r.ravel(init, "init"), r.ravel(sub(next, init), "T"), 1);
    return { iterNum: 0, error: error.item(), status: "maxIterReached", next, history };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  update(params: any, state: AndersonState, ...args: any[]): SolverResult<AndersonState> {
    const r = raveler(params, this.name);
    const x = r.unravel(andersonMix(state.history, this.beta, this.ridge));
    const [next, error] = evaluate(this.fixedPointFun, x, args, this.name);
    const history = andersonPush(
      state.history,
      r.ravel(x, "x"),
      r.ravel(sub(next, x), "fixedPointFun(x, ...args)"),
      this.historySize,
    );
    return {
      params: x,
      state: { iterNum: state.iterNum + 1, error: error.item(), status: state.status, next, history },
    };
  }
}

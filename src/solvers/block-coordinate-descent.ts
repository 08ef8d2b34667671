/**
 * Block coordinate descent with block proximal steps, blocks being the rows of the params tensor.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, onesLike, zerosLike } from "../core/tensor.js";
import { stopGradient } from "../core/transforms.js";
import { sub as subOp, mul } from "../core/ops/elementwise.js";
import { vdot } from "../core/ops/matmul.js";
import { sub, type Tree } from "../core/tree.js";
import type { ImplicitOptions } from "../implicit/root.js";
import { Solver, type SolverOptions, type SolverResult, type SolverState } from "./base.js";
import { curvatureAlong, normOf, objectiveValueAndGrad } from "./common.js";
import { LIPSCHITZ_MARGIN, decideBelow, gradientSlack } from "./linesearch.js";
import {
  blockProxGradFixedPoint,
  blockStepsizes,
  rowOf,
  withRow,
  type BlockProxFn,
  type ObjectiveFn,
} from "./conditions.js";

/** Options of {@link BlockCoordinateDescent}. */
export interface BlockCoordinateDescentOptions extends SolverOptions {
  /** The smooth part f(params, ...args), a scalar; params is a tensor whose rows (axis 0) are the blocks. */
  fun: ObjectiveFn;
  /** blockProx(row, hyperparamsProx, scaling): the prox of the separable non-smooth part on one block. */
  blockProx: BlockProxFn;
  /**
   * Lipschitz constants L_j of the block gradients ∇_j f (one per row, or one for all): steps are 1/L_j. Omit
   * them to estimate each L_j: it starts at the curvature of f along the block's gradient at `init` and is
   * doubled whenever the block's quadratic upper bound fails (it never decreases, so that the error measure
   * stays honest).
   */
  lipschitz?: number | readonly number[];
  /** Backtracking: trial steps per block update (default 30). */
  maxBacktrackingIter?: number;
}

/** The state of {@link BlockCoordinateDescent}. */
export interface BlockCoordinateDescentState extends SolverState {
  value: number;
  /** The current per-block Lipschitz estimates (steps are their inverses). */
  lipschitz: number[];
}

/**
 * Cyclic block coordinate descent for min f(x, ...args) + Σ_j g(x_j, hyperparamsProx) over the rows x_j of x:
 * each sweep updates x_j ← blockProx(x_j − [∇f(x)]_j / L_j, hyperparamsProx, 1/L_j) for j = 0, 1, …, using the
 * latest rows. Call `run(init, hyperparamsProx, ...args)`. `error` is √Σ_j L_j²‖Δx_j‖² over the last sweep (a
 * blockwise gradient-mapping norm). The implicit derivative uses {@link blockProxGradFixedPoint} with steps 1/L_j.
 *
 * @example
 * ```ts
 * import { BlockCoordinateDescent, objective, projection, tensor } from "diffopt";
 * // multiclass SVM dual: each row of beta on the simplex
 * const X = tensor([[1, 0.2], [0.1, 1], [-1, 0.5]]);
 * const Y = tensor([[1, 0], [0, 1], [1, 0]]);
 * const bcd = new BlockCoordinateDescent({
 *   fun: objective.multiclassLinearSvmDual,
 *   blockProx: (row) => projection.simplex(row),
 *   tol: 1e-9,
 * });
 * bcd.run(tensor([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]), null, tensor(1), [X, Y]).params;
 * ```
 */
export class BlockCoordinateDescent extends Solver<BlockCoordinateDescentState> {
  readonly fun: ObjectiveFn;
  readonly blockProx: BlockProxFn;
  readonly lipschitz: number | readonly number[] | undefined;
  readonly maxBacktrackingIter: number;

  constructor(opts: BlockCoordinateDescentOptions) {
    super("BlockCoordinateDescent", opts, {
      keys: ["fun", "blockProx", "lipschitz", "maxBacktrackingIter"] satisfies (keyof BlockCoordinateDescentOptions)[],
      functions: ["fun", "blockProx"],
    });
    this.fun = opts.fun;
    this.blockProx = opts.blockProx;
    this.lipschitz = opts.lipschitz;
    this.maxBacktrackingIter = opts.maxBacktrackingIter ?? 30;
    if (opts.lipschitz !== undefined)
      blockStepsizes(opts.lipschitz, typeof opts.lipschitz === "number" ? 1 : opts.lipschitz.length, this.name);
  }

  private blocks(x: Tensor): number {
    if (x.ndim === 0) throw new ShapeError(`${this.name}: params must have a block axis 0, got shape ${fmt(x.shape)}`);
    return x.shape[0]!;
  }

  // `any`: each solver narrows the step-by-step methods' params and arguments (see `Solver.init` in base.ts).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  init(init: any, hyperparamsProx: any, ...args: any[]): BlockCoordinateDescentState {
    const x = asTensor(init);
    const m = this.blocks(x);
    const [v, g] = objectiveValueAndGrad(this.fun, x, args, this.name);
    const lipschitz =
      this.lipschitz === undefined
        ? this.initialLipschitz(x, g as Tensor, args)
        : blockStepsizes(this.lipschitz, m, this.name);
    const T = blockProxGradFixedPoint(
      this.fun,
      this.blockProx,
      lipschitz.map((l) => 1 / l),
    );
    const step = sub(
      T(stopGradient(x), stopGradient(hyperparamsProx as Tree), ...(stopGradient([...args] as Tree) as Tree[])),
      stopGradient(x),
    ) as Tensor;
    let errSq = 0;
    for (let j = 0; j < m; j++) errSq += (lipschitz[j]! * normOf(rowOf(step, j))) ** 2;
    return { iterNum: 0, error: Math.sqrt(errSq), status: "maxIterReached", value: stopGradient(v).item(), lipschitz };
  }

  /** Per block, the curvature of f along its block gradient (along the block's ones when that is zero). */
  private initialLipschitz(x: Tensor, g: Tensor, args: readonly Tree[]): number[] {
    const m = x.shape[0]!;
    const out: number[] = [];
    for (let j = 0; j < m; j++) {
      const gj = rowOf(stopGradient(g), j);
      const dir = normOf(gj) > 0 ? gj : onesLike(gj);
      const c = curvatureAlong(this.fun, x, withRow(zerosLike(stopGradient(x)), j, dir), args);
      out.push(c > 0 && Number.isFinite(c) ? c : 1);
    }
    return out;
  }

  /** L_j for this block update: fixed, or by backtracking on plain values. */
  private blockLipschitz(
    x: Tensor,
    j: number,
    gj: Tensor,
    value: number,
    L0: number,
    hyperparamsProx: Tree,
    args: readonly Tree[],
  ): number {
    if (this.lipschitz !== undefined) return L0;
    const xp = stopGradient(x);
    const gp = stopGradient(gj);
    const hp = stopGradient(hyperparamsProx as Tree);
    const plainArgs = stopGradient([...args] as Tree) as Tree[];
    const xj = rowOf(xp, j);
    let L = L0;
    for (let i = 0; i < this.maxBacktrackingIter; i++) {
      const cand = this.blockProx(subOp(xj, mul(gp, 1 / L)), hp, 1 / L);
      const d = subOp(cand, xj);
      const model = value + stopGradient(vdot(gp, d)).item() + (L / 2) * normOf(d) ** 2 * (1 + LIPSCHITZ_MARGIN);
      const xc = withRow(xp, j, cand);
      const fc = stopGradient(this.fun(xc, ...plainArgs) as Tensor).item();
      // Within rounding, estimate the decrease from gradients (trapezoid rule) instead.
      const ok = decideBelow(fc, model, value) ?? this.trapezoidTest(xc, j, gp, d, L, plainArgs);
      if (ok) break;
      if (i + 1 < this.maxBacktrackingIter) L *= 2;
    }
    return L;
  }

  /** ⟨∇_j f(x⁺) − g_j, d⟩ ≤ L‖d‖², the block upper-bound test estimated from gradients (trapezoid rule). */
  private trapezoidTest(xc: Tensor, j: number, gj: Tensor, d: Tensor, L: number, plainArgs: Tree[]): boolean {
    const gc = rowOf(objectiveValueAndGrad(this.fun, xc, plainArgs, this.name)[1] as Tensor, j);
    return (
      stopGradient(vdot(subOp(gc, gj), d)).item() <=
      L * normOf(d) ** 2 * (1 + LIPSCHITZ_MARGIN) + gradientSlack(gc, gj, d)
    );
  }

  update(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    params: any,
    state: BlockCoordinateDescentState,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    hyperparamsProx: any,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    ...args: any[]
  ): SolverResult<BlockCoordinateDescentState> {
    let x = asTensor(params);
    const m = this.blocks(x);
    const lipschitz = [...state.lipschitz];
    let errSq = 0;
    for (let j = 0; j < m; j++) {
      const [v, g] = objectiveValueAndGrad(this.fun, x, args, this.name);
      const gj = rowOf(g as Tensor, j);
      const L = this.blockLipschitz(x, j, gj, stopGradient(v).item(), lipschitz[j]!, hyperparamsProx, args);
      lipschitz[j] = L;
      const xj = rowOf(x, j);
      const row = this.blockProx(subOp(xj, mul(gj, 1 / L)), hyperparamsProx, 1 / L);
      errSq += (L * normOf(subOp(row, xj))) ** 2;
      x = withRow(x, j, row);
    }
    const value = (this.fun(stopGradient(x), ...(stopGradient([...args] as Tree) as Tree[])) as Tensor).item();
    return {
      params: x,
      state: { iterNum: state.iterNum + 1, error: Math.sqrt(errSq), status: state.status, value, lipschitz },
    };
  }

  /** T(params) − params for the block fixed point with steps 1/L_j (1 without `lipschitz`): zero at a solution. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimalityFun(params: any, hyperparamsProx: any, ...args: any[]): Tree {
    const m = this.blocks(asTensor(params));
    const steps = this.lipschitz === undefined ? 1 : blockStepsizes(this.lipschitz, m, this.name).map((l) => 1 / l);
    return sub(blockProxGradFixedPoint(this.fun, this.blockProx, steps)(params, hyperparamsProx, ...args), params);
  }

  protected override implicitCondition(state: BlockCoordinateDescentState): (x: Tree, ...args: Tree[]) => Tree {
    const T = blockProxGradFixedPoint(
      this.fun,
      this.blockProx,
      state.lipschitz.map((l) => 1 / l),
    );
    return (x, hyperparamsProx, ...args) => sub(T(x as Tensor, hyperparamsProx, ...args), x);
  }

  protected implicitHints(): ImplicitOptions {
    return {};
  }
}

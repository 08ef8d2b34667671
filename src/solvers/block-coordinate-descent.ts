/**
 * Block coordinate descent with block proximal steps, blocks being the rows of the params tensor.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, onesLike, zerosLike } from "../core/tensor.js";
import { stopGradient, valueAndGrad } from "../core/transforms.js";
import { add, sub as subOp, mul } from "../core/ops/elementwise.js";
import { sum } from "../core/ops/reduce.js";
import { stack } from "../core/ops/join.js";
import { reshape } from "../core/ops/shape.js";
import { matmul, matrixTranspose, vdot } from "../core/ops/matmul.js";
import {
  checkCompositeShapes,
  type CompositeLinearParts,
  type CompositeLinearStructure,
} from "../objective/composite.js";
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
 * A generic `fun` costs one full gradient per block (m per sweep). When `fun` is composite-linear (it has a
 * `composite` field, as `objective.multiclassLinearSvmDual` and the objectives built by
 * `objective.compositeLinear` do: f(x) = h(M x) + ⟨B, x⟩ for a matrix x), the solver keeps z = M x up to date by
 * rank-one corrections, so a block step costs O(q·r) and a sweep about one gradient, as in JAXopt.
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
    model: SweepModel,
    j: number,
    gj: Tensor,
    value: number,
    L0: number,
    hyperparamsProx: Tree,
  ): number {
    if (this.lipschitz !== undefined) return L0;
    const gp = stopGradient(gj);
    const hp = stopGradient(hyperparamsProx as Tree);
    const xj = stopGradient(model.row(j));
    let L = L0;
    for (let i = 0; i < this.maxBacktrackingIter; i++) {
      const cand = this.blockProx(subOp(xj, mul(gp, 1 / L)), hp, 1 / L);
      const d = subOp(cand, xj);
      const model2 = value + stopGradient(vdot(gp, d)).item() + (L / 2) * normOf(d) ** 2 * (1 + LIPSCHITZ_MARGIN);
      // Within rounding, estimate the decrease from gradients (trapezoid rule) instead.
      const ok = decideBelow(model.valueWith(j, cand), model2, value) ?? this.trapezoidTest(model, j, cand, gp, d, L);
      if (ok) break;
      if (i + 1 < this.maxBacktrackingIter) L *= 2;
    }
    return L;
  }

  /** ⟨∇_j f(x⁺) − g_j, d⟩ ≤ L‖d‖², the block upper-bound test estimated from gradients (trapezoid rule). */
  private trapezoidTest(model: SweepModel, j: number, cand: Tensor, gj: Tensor, d: Tensor, L: number): boolean {
    const gc = model.gradWith(j, cand);
    return (
      stopGradient(vdot(subOp(gc, gj), d)).item() <=
      L * normOf(d) ** 2 * (1 + LIPSCHITZ_MARGIN) + gradientSlack(gc, gj, d)
    );
  }

  /** The sweep model of `fun` at x: composite-linear when `fun` carries its structure and x is a matrix. */
  private sweepModel(x: Tensor, args: readonly Tree[]): SweepModel {
    const composite = (this.fun as Partial<CompositeLinearStructure>).composite;
    return typeof composite === "function" && x.ndim === 2
      ? new CompositeSweep(composite, x, args, this.name)
      : new GenericSweep(this.fun, x, args, this.name);
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
    const x0 = asTensor(params);
    const m = this.blocks(x0);
    const model = this.sweepModel(x0, args);
    const lipschitz = [...state.lipschitz];
    let errSq = 0;
    for (let j = 0; j < m; j++) {
      const { value, grad: gj } = model.at(j);
      const L = this.blockLipschitz(model, j, gj, value, lipschitz[j]!, hyperparamsProx);
      lipschitz[j] = L;
      const xj = model.row(j);
      const row = this.blockProx(subOp(xj, mul(gj, 1 / L)), hyperparamsProx, 1 / L);
      errSq += (L * normOf(subOp(row, xj))) ** 2;
      model.set(j, row);
    }
    const x = model.params();
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

/**
 * What one sweep needs from f around the iterate it updates row by row: f and the block gradient ∇_j f at the
 * current iterate (traced when the args are, for unrolling), and plain values of f and ∇_j f with row j replaced
 * (for backtracking).
 */
interface SweepModel {
  /** f (a number) and ∇_j f at the current iterate. */
  at(j: number): { value: number; grad: Tensor };
  /** Row j of the current iterate. */
  row(j: number): Tensor;
  /** f (plain) with row j replaced by `row`. */
  valueWith(j: number, row: Tensor): number;
  /** ∇_j f (plain) with row j replaced by `row`. */
  gradWith(j: number, row: Tensor): Tensor;
  /** Replaces row j. */
  set(j: number, row: Tensor): void;
  /** The current iterate. */
  params(): Tensor;
}

/** Any f: a full gradient per block. */
class GenericSweep implements SweepModel {
  private readonly plainArgs: Tree[];
  constructor(
    private readonly fun: ObjectiveFn,
    private x: Tensor,
    private readonly args: readonly Tree[],
    private readonly who: string,
  ) {
    this.plainArgs = stopGradient([...args] as Tree) as Tree[];
  }
  at(j: number) {
    const [v, g] = objectiveValueAndGrad(this.fun, this.x, this.args, this.who);
    return { value: stopGradient(v).item(), grad: rowOf(g as Tensor, j) };
  }
  row(j: number) {
    return rowOf(this.x, j);
  }
  valueWith(j: number, row: Tensor) {
    return stopGradient(this.fun(withRow(stopGradient(this.x), j, row), ...this.plainArgs) as Tensor).item();
  }
  gradWith(j: number, row: Tensor) {
    const xc = withRow(stopGradient(this.x), j, row);
    return rowOf(objectiveValueAndGrad(this.fun, xc, this.plainArgs, this.who)[1] as Tensor, j);
  }
  set(j: number, row: Tensor) {
    this.x = withRow(this.x, j, row);
  }
  params() {
    return this.x;
  }
}

/**
 * f(x) = h(M x) + ⟨B, x⟩: keeps z = M x by rank-one corrections z += M[:, j] ⊗ Δx_j, so that
 * ∇_j f = M[:, j]ᵀ∇h(z) + B_j costs O(q·r). z is recomputed from x at the start of every sweep, so rounding
 * cannot accumulate across sweeps.
 */
class CompositeSweep implements SweepModel {
  private readonly parts: CompositeLinearParts;
  private readonly columns: Tensor;
  private readonly rows: Tensor[];
  private z: Tensor;
  /** ⟨B, x⟩ at the current iterate, as a number (only the plain values need it). */
  private linear: number;
  private plain: { parts: CompositeLinearParts; columns: Tensor } | undefined;
  constructor(
    private readonly structure: CompositeLinearStructure["composite"],
    x: Tensor,
    private readonly args: readonly Tree[],
    who: string,
  ) {
    this.parts = structure(...args);
    checkCompositeShapes(this.parts, x, who);
    this.columns = matrixTranspose(this.parts.matrix);
    this.rows = Array.from({ length: x.shape[0]! }, (_, j) => rowOf(x, j));
    this.z = matmul(this.parts.matrix, x);
    const B = this.parts.linear;
    this.linear = B === undefined ? 0 : stopGradient(sum(mul(B, x))).item();
  }
  private blockGrad(parts: CompositeLinearParts, columns: Tensor, z: Tensor, j: number): [Tensor, Tensor] {
    const [v, hz] = valueAndGrad(parts.h)(z) as [Tensor, Tensor];
    const g = matmul(rowOf(columns, j), hz);
    return [v, parts.linear === undefined ? g : add(g, rowOf(parts.linear, j))];
  }
  at(j: number) {
    const [v, grad] = this.blockGrad(this.parts, this.columns, this.z, j);
    return { value: stopGradient(v).item() + this.linear, grad };
  }
  row(j: number) {
    return this.rows[j]!;
  }
  /** The plain parts and z with row j replaced by `row`, and ⟨B_j, Δx_j⟩. */
  private plainWith(j: number, row: Tensor) {
    this.plain ??= (() => {
      const parts = this.structure(...(stopGradient([...this.args] as Tree) as Tree[]));
      return { parts, columns: matrixTranspose(parts.matrix) };
    })();
    const d = subOp(row, stopGradient(this.rows[j]!));
    const z = add(stopGradient(this.z), rankOne(rowOf(this.plain.columns, j), d));
    const B = this.plain.parts.linear;
    return { ...this.plain, z, dLinear: B === undefined ? 0 : vdot(rowOf(B, j), d).item() };
  }
  valueWith(j: number, row: Tensor) {
    const p = this.plainWith(j, row);
    return p.parts.h(p.z).item() + this.linear + p.dLinear;
  }
  gradWith(j: number, row: Tensor) {
    const p = this.plainWith(j, row);
    return this.blockGrad(p.parts, p.columns, p.z, j)[1];
  }
  set(j: number, row: Tensor) {
    const d = subOp(row, this.rows[j]!);
    this.z = add(this.z, rankOne(rowOf(this.columns, j), d));
    const B = this.parts.linear;
    if (B !== undefined) this.linear += stopGradient(vdot(rowOf(B, j), d)).item();
    this.rows[j] = row;
  }
  params() {
    return stack(this.rows);
  }
}

/** The rank-one matrix a dᵀ [q, r] of a column a [q] and a row d [r], as a product (a kernel, not a broadcast). */
function rankOne(a: Tensor, d: Tensor): Tensor {
  return matmul(reshape(a, [a.size, 1]), reshape(d, [1, d.size]));
}

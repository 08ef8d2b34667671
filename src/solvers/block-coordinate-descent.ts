/**
 * Block coordinate descent with block proximal steps, blocks being the rows of the params tensor.
 * @module
 */
import { bind, type Primitive } from "../core/engine.js";
import { DifferentiationError, ShapeError } from "../core/errors.js";
import { fmt } from "../core/shape.js";
import { Tensor, asTensor, onesLike, sameShape, zerosLike } from "../core/tensor.js";
import { stopGradient, valueAndGrad } from "../core/transforms.js";
import { add, sub as subOp, mul } from "../core/ops/elementwise.js";
import { stack } from "../core/ops/join.js";
import { matmul, vdot } from "../core/ops/matmul.js";
import {
  checkCompositeShapes,
  checkQuadraticDeclaration,
  sharedTranspose,
  type CompositeLinearParts,
  type CompositeLinearStructure,
} from "../objective/composite.js";
import { sub, type Tree } from "../core/tree.js";
import type { ImplicitOptions } from "../implicit/root.js";
import { Solver, type SolverOptions, type SolverResult, type SolverState } from "./base.js";
import { curvatureAlong, isConcrete, normOf, objectiveValueAndGrad } from "./common.js";
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
 * rank-one corrections, so a block step costs O(q·r), as in JAXopt. When nothing is traced (a plain run, the
 * solve of implicit differentiation), the sweep runs on Float64Arrays with no op per block; traced (unrolling),
 * it records a few ops per block. A block step differentiates h at z, unless the parts declare h quadratic
 * (`quadratic`, as the SVM dual does): then ∇h(z) = curvature·(z − center) and a sweep costs a few gradients of f.
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
    const composite = (this.fun as Partial<CompositeLinearStructure>).composite;
    if (typeof composite === "function" && x.ndim === 2) {
      const parts = composite(...args);
      checkCompositeShapes(parts, x, this.name);
      checkQuadraticDeclaration(parts, stopGradient(x), this.name);
    }
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
  private blockLipschitz(model: SweepModel, j: number, gj: Tensor, L0: number, hyperparamsProx: Tree): number {
    if (this.lipschitz !== undefined) return L0;
    const value = model.value();
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

  /**
   * The sweep model of `fun` at x: composite-linear when `fun` carries its structure and x is a matrix, on plain
   * values when nothing is traced (x, the args, the prox's hyperparameters, and the pieces of the structure).
   */
  private sweepModel(x: Tensor, hyperparamsProx: Tree, args: readonly Tree[]): SweepModel {
    const composite = (this.fun as Partial<CompositeLinearStructure>).composite;
    if (typeof composite !== "function" || x.ndim !== 2) return new GenericSweep(this.fun, x, args, this.name);
    const traced = (from: Tensor) => new CompositeSweep(composite, from, args, this.name);
    if (!isConcrete([x, hyperparamsProx, ...args] as Tree)) return traced(x);
    const kernels = this.plainKernels(composite, x, args);
    return kernels === null ? traced(x) : new PlainCompositeSweep(kernels, x, traced);
  }

  /**
   * The plain kernels of the structure at concrete args, or null when its pieces (or h) are traced although the
   * args are not (they close over traced values).
   */
  private plainKernels(
    composite: CompositeLinearStructure["composite"],
    x: Tensor,
    args: readonly Tree[],
  ): PlainComposite | null {
    const parts = composite(...args);
    checkCompositeShapes(parts, x, this.name);
    const quad = parts.quadratic;
    const pieces = [parts.matrix, parts.linear ?? null, quad?.center ?? null, asTensor(quad?.curvature ?? 0)];
    const concrete = isConcrete(pieces as Tree) && (quad !== undefined || isConcrete(parts.h(matmul(parts.matrix, x))));
    return concrete ? new PlainComposite(parts, x.shape[1]!, this.name) : null;
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
    let model = this.sweepModel(x0, hyperparamsProx as Tree, args);
    const lipschitz = [...state.lipschitz];
    let errSq = 0;
    for (let j = 0; j < m; j++) {
      const gj = model.grad(j);
      const L = this.blockLipschitz(model, j, gj, lipschitz[j]!, hyperparamsProx);
      lipschitz[j] = L;
      const xj = model.row(j);
      const row = asTensor(this.blockProx(gradientStepOf(xj, gj, L), hyperparamsProx, 1 / L));
      if (!sameShape(row.shape, xj.shape))
        throw new ShapeError(
          `${this.name}: blockProx must return a block of the shape of the rows of params ${fmt(xj.shape)}, got ${fmt(row.shape)}`,
        );
      errSq += (L * distance(row, xj)) ** 2;
      model = model.set(j, row);
    }
    const x = model.params();
    const value = model.value();
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
 * What one sweep needs from f around the iterate it updates row by row: the block gradient ∇_j f at the current
 * iterate (traced when the args are, for unrolling), and plain values of f (for backtracking), also with row j
 * replaced.
 */
interface SweepModel {
  /** ∇_j f at the current iterate. */
  grad(j: number): Tensor;
  /** f (plain) at the current iterate. */
  value(): number;
  /** Row j of the current iterate. */
  row(j: number): Tensor;
  /** f (plain) with row j replaced by `row`. */
  valueWith(j: number, row: Tensor): number;
  /** ∇_j f (plain) with row j replaced by `row`. */
  gradWith(j: number, row: Tensor): Tensor;
  /**
   * Replaces row j, and returns the model for the next blocks: itself, or, when a plain-value model is handed a
   * traced row (a blockProx that closes over traced values), a traced model that takes over from here.
   */
  set(j: number, row: Tensor): SweepModel;
  /** The current iterate. */
  params(): Tensor;
}

/** Any f: a full gradient per block. */
class GenericSweep implements SweepModel {
  private readonly plainArgs: Tree[];
  /** f at `valueAt` (the iterate of the last `grad` or `value` call). */
  private lastValue = NaN;
  private valueAt: Tensor | null = null;
  constructor(
    private readonly fun: ObjectiveFn,
    private x: Tensor,
    private readonly args: readonly Tree[],
    private readonly who: string,
  ) {
    this.plainArgs = stopGradient([...args] as Tree) as Tree[];
  }
  grad(j: number) {
    const [v, g] = objectiveValueAndGrad(this.fun, this.x, this.args, this.who);
    this.lastValue = stopGradient(v).item();
    this.valueAt = this.x;
    return rowOf(g as Tensor, j);
  }
  value() {
    if (this.valueAt !== this.x) {
      this.lastValue = stopGradient(this.fun(stopGradient(this.x), ...this.plainArgs) as Tensor).item();
      this.valueAt = this.x;
    }
    return this.lastValue;
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
    return this;
  }
  params() {
    return this.x;
  }
}

/**
 * The block kernels of f(x) = h(M x) + ⟨B, x⟩ on plain values (Float64Arrays, no op, no tape). The sweep state s
 * is z = M x [q, r], or z − center when h is declared quadratic (then ∇h(z) = curvature·s needs no h at all).
 */
class PlainComposite {
  readonly q: number;
  readonly m: number;
  readonly r: number;
  /** Mᵀ [m, q]: column j of M is contiguous. */
  private readonly MT: Float64Array;
  private readonly B: Float64Array | null;
  private readonly center: Float64Array | null;
  private readonly curvature: number;
  private readonly out: Float64Array;
  constructor(
    readonly parts: CompositeLinearParts,
    r: number,
    private readonly who: string,
  ) {
    [this.q, this.m] = parts.matrix.shape as [number, number];
    this.r = r;
    this.MT = sharedTranspose(parts.matrix).raw;
    this.B = parts.linear === undefined ? null : parts.linear.raw;
    const quad = parts.quadratic;
    this.center = quad === undefined ? null : quad.center.raw;
    this.curvature = quad === undefined ? NaN : asTensor(quad.curvature).item();
    this.out = new Float64Array(this.r);
  }
  /** The sweep state of x (plain [m, r]): M x, less the center for a quadratic h; a fresh array. */
  state(x: Tensor): Float64Array {
    const z = matmul(this.parts.matrix, x).raw.slice();
    const c = this.center;
    if (c !== null) for (let i = 0; i < z.length; i++) z[i] = z[i]! - c[i]!;
    return z;
  }
  /** ∇_j f = M[:, j]ᵀ∇h(z) + B_j at the state s, as a new tensor [r]. */
  blockGrad(s: Float64Array, j: number): Tensor {
    const { q, r, MT, out } = this;
    const quadratic = this.center !== null;
    const hz = quadratic ? s : this.hGrad(s);
    out.fill(0);
    for (let i = 0; i < q; i++) {
      const a = MT[j * q + i]!;
      for (let c = 0; c < r; c++) out[c] = out[c]! + a * hz[i * r + c]!;
    }
    const g = new Float64Array(r);
    const B = this.B;
    for (let c = 0; c < r; c++) {
      const v = quadratic ? this.curvature * out[c]! : out[c]!;
      g[c] = B === null ? v : v + B[j * r + c]!;
    }
    return new Tensor(g, [r]);
  }
  /** ∇h at the state s (z itself for a general h). */
  private hGrad(s: Float64Array): Float64Array {
    const hz = valueAndGrad(this.parts.h)(new Tensor(s.slice(), [this.q, this.r]))[1] as Tensor;
    if (hz.level !== 0)
      throw new DifferentiationError(`${this.who}: the composite h has a traced gradient at plain values`);
    return hz.raw;
  }
  /** h at the state s. */
  hValue(s: Float64Array): number {
    if (this.center === null) return this.parts.h(new Tensor(s.slice(), [this.q, this.r])).item();
    let sq = 0;
    for (let i = 0; i < s.length; i++) sq += s[i]! * s[i]!;
    return (this.curvature / 2) * sq;
  }
  /** target = s + M[:, j] ⊗ d (target may be s). */
  addRankOne(s: Float64Array, j: number, d: Float64Array, target: Float64Array): void {
    const { q, r, MT } = this;
    for (let i = 0; i < q; i++) {
      const a = MT[j * q + i]!;
      for (let c = 0; c < r; c++) target[i * r + c] = s[i * r + c]! + a * d[c]!;
    }
  }
  /** ⟨B_j, d⟩. */
  linearDelta(j: number, d: Float64Array): number {
    const B = this.B;
    if (B === null) return 0;
    let v = 0;
    for (let c = 0; c < this.r; c++) v += B[j * this.r + c]! * d[c]!;
    return v;
  }
  /** ⟨B, x⟩ for x [m, r] plain. */
  linearValue(x: Float64Array): number {
    const B = this.B;
    if (B === null) return 0;
    let v = 0;
    for (let i = 0; i < x.length; i++) v += B[i]! * x[i]!;
    return v;
  }
}

/** row − x_j as a new array (plain values). */
function rowDelta(row: Tensor, x: Float64Array, j: number): Float64Array {
  const r = row.size;
  const d = new Float64Array(r);
  for (let c = 0; c < r; c++) d[c] = row.raw[c]! - x[j * r + c]!;
  return d;
}

/**
 * f(x) = h(M x) + ⟨B, x⟩ when nothing is traced (a plain run, the solve of implicit differentiation): the sweep
 * on Float64Arrays, keeping z = M x (z − center for a quadratic h) by rank-one corrections in place, so that a
 * block step costs O(q·r) arithmetic and no op. The state is recomputed from x at the start of every sweep, so
 * rounding cannot accumulate across sweeps.
 */
class PlainCompositeSweep implements SweepModel {
  private readonly x: Float64Array;
  private readonly s: Float64Array;
  private readonly scratch: Float64Array;
  /** ⟨B, x⟩ at the current iterate. */
  private linear: number;
  constructor(
    private readonly kernels: PlainComposite,
    x: Tensor,
    private readonly handOver: (x: Tensor) => SweepModel,
  ) {
    this.x = x.raw.slice();
    this.s = kernels.state(x);
    this.scratch = new Float64Array(this.s.length);
    this.linear = kernels.linearValue(this.x);
  }
  grad(j: number) {
    return this.kernels.blockGrad(this.s, j);
  }
  value() {
    return this.kernels.hValue(this.s) + this.linear;
  }
  row(j: number) {
    const r = this.kernels.r;
    return new Tensor(this.x.slice(j * r, (j + 1) * r), [r]);
  }
  /** The scratch state with row j replaced by `row`, and ⟨B_j, Δx_j⟩. */
  private stateWith(j: number, row: Tensor): number {
    const d = rowDelta(stopGradient(row), this.x, j);
    this.kernels.addRankOne(this.s, j, d, this.scratch);
    return this.kernels.linearDelta(j, d);
  }
  valueWith(j: number, row: Tensor) {
    const dLinear = this.stateWith(j, row);
    return this.kernels.hValue(this.scratch) + this.linear + dLinear;
  }
  gradWith(j: number, row: Tensor) {
    this.stateWith(j, row);
    return this.kernels.blockGrad(this.scratch, j);
  }
  set(j: number, row: Tensor): SweepModel {
    if (row.level !== 0) return this.handOver(this.params()).set(j, row);
    const d = rowDelta(row, this.x, j);
    this.kernels.addRankOne(this.s, j, d, this.s);
    this.linear += this.kernels.linearDelta(j, d);
    this.x.set(row.raw, j * this.kernels.r);
    return this;
  }
  params() {
    return new Tensor(this.x.slice(), [this.kernels.m, this.kernels.r]);
  }
}

/**
 * f(x) = h(M x) + ⟨B, x⟩ with traced values (unrolling, vmap): keeps z = M x (z − center for a quadratic h) by
 * rank-one corrections z += M[:, j] ⊗ Δx_j written with ops, so that ∇_j f = M[:, j]ᵀ∇h(z) + B_j costs O(q·r)
 * and records a few ops: for a quadratic h, ∇h(z) = curvature·(z − center) needs no nested gradient of h. Plain
 * values (backtracking, the value after the sweep) come from the plain kernels, on the values of the state. The
 * state is recomputed from x at the start of every sweep.
 */
class CompositeSweep implements SweepModel {
  private readonly parts: CompositeLinearParts;
  /** Row j of Mᵀ (column j of M) [q], and B_j [r]. */
  private readonly column: (j: number) => Tensor;
  private readonly linearRow: ((j: number) => Tensor) | null;
  private readonly curvature: Tensor | number | null;
  private readonly rows: Tensor[];
  private s: Tensor;
  private plain: PlainComposite | undefined;
  constructor(
    private readonly structure: CompositeLinearStructure["composite"],
    x: Tensor,
    private readonly args: readonly Tree[],
    private readonly who: string,
  ) {
    const parts = structure(...args);
    this.parts = parts;
    checkCompositeShapes(parts, x, who);
    this.column = rowsOf(sharedTranspose(parts.matrix));
    this.linearRow = parts.linear === undefined ? null : rowsOf(parts.linear);
    this.rows = Array.from({ length: x.shape[0]! }, (_, j) => rowOf(x, j));
    const z = matmul(parts.matrix, x);
    const quad = parts.quadratic;
    this.s = quad === undefined ? z : subOp(z, quad.center);
    this.curvature = quad === undefined ? null : quad.curvature;
  }
  grad(j: number) {
    const hz = this.curvature === null ? (valueAndGrad(this.parts.h)(this.s) as [Tensor, Tensor])[1] : this.s;
    let g = matmul(this.column(j), hz);
    if (this.curvature !== null) g = mul(g, this.curvature);
    return this.linearRow === null ? g : add(g, this.linearRow(j));
  }
  /** The plain kernels, made on first use (only backtracking needs them). */
  private kernels(): PlainComposite {
    this.plain ??= new PlainComposite(
      this.structure(...(stopGradient([...this.args] as Tree) as Tree[])),
      this.rows[0]!.size,
      this.who,
    );
    return this.plain;
  }
  /** ⟨B, x⟩ at the current iterate (plain). */
  private linear(): number {
    const x = new Float64Array(this.rows.length * this.rows[0]!.size);
    this.rows.forEach((row, j) => x.set(stopGradient(row).raw, j * row.size));
    return this.kernels().linearValue(x);
  }
  value() {
    return this.kernels().hValue(stopGradient(this.s).raw) + this.linear();
  }
  row(j: number) {
    return this.rows[j]!;
  }
  /** The plain state with row j replaced by `row` (a new array), and ⟨B_j, Δx_j⟩. */
  private stateWith(j: number, row: Tensor): [Float64Array, number] {
    const k = this.kernels();
    const d = stopGradient(subOp(row, this.rows[j]!)).raw;
    const s = stopGradient(this.s).raw;
    const out = new Float64Array(s.length);
    k.addRankOne(s, j, d, out);
    return [out, k.linearDelta(j, d)];
  }
  valueWith(j: number, row: Tensor) {
    const [s, dLinear] = this.stateWith(j, row);
    return this.kernels().hValue(s) + this.linear() + dLinear;
  }
  gradWith(j: number, row: Tensor) {
    return this.kernels().blockGrad(this.stateWith(j, row)[0], j);
  }
  set(j: number, row: Tensor) {
    const d = subOp(row, this.rows[j]!);
    this.s = addOuter(this.s, this.column(j), d);
    this.rows[j] = row;
    return this;
  }
  params() {
    return stack(this.rows);
  }
}

/**
 * The rows of a matrix as a function of j: views of its values when it is concrete (no op per row), else
 * `rowOf` (ops, traced).
 */
function rowsOf(a: Tensor): (j: number) => Tensor {
  if (a.level !== 0) return (j) => rowOf(a, j);
  const n = a.shape[1]!;
  return (j) => new Tensor(a.raw.subarray(j * n, (j + 1) * n), [n]);
}

/** x_j − g_j/L: on plain values by a loop (the same operations as the ops, which trace it otherwise). */
function gradientStepOf(xj: Tensor, gj: Tensor, L: number): Tensor {
  if (xj.level !== 0 || gj.level !== 0) return subOp(xj, mul(gj, 1 / L));
  const out = new Float64Array(xj.size);
  const step = 1 / L;
  for (let c = 0; c < out.length; c++) out[c] = xj.raw[c]! - gj.raw[c]! * step;
  return new Tensor(out, xj.shape);
}

/** ‖a − b‖ as a number (a loop on plain values). */
function distance(a: Tensor, b: Tensor): number {
  if (a.level !== 0 || b.level !== 0) return normOf(subOp(a, b));
  let sq = 0;
  for (let c = 0; c < a.size; c++) sq += (a.raw[c]! - b.raw[c]!) ** 2;
  return Math.sqrt(sq);
}

/**
 * s + a dᵀ [q, r] for s [q, r], a [q] and d [r]: the rank-one correction of the sweep state as one primitive, so
 * that a traced block step allocates (and its tape keeps) one q×r array instead of two (the outer product and the
 * sum). Its rules are written with ops (itself and matmul), so derivatives of any order work; under vmap it runs
 * per batch element (no batching rule).
 */
const addOuterPrim: Primitive = {
  name: "addOuter",
  impl([s, a, d]) {
    const q = a!.size;
    const r = d!.size;
    const out = new Float64Array(q * r);
    const sv = s!.raw;
    const dv = d!.raw;
    for (let i = 0; i < q; i++) {
      const ai = a!.raw[i]!;
      for (let c = 0; c < r; c++) out[i * r + c] = sv[i * r + c]! + ai * dv[c]!;
    }
    return new Tensor(out, s!.shape);
  },
  jvp([s, a, d], [ts, ta, td]) {
    let t = ts ?? null;
    if (ta) t = addOuter(t ?? zerosLike(s!), ta, d!);
    if (td) t = addOuter(t ?? zerosLike(s!), a!, td);
    return t;
  },
  vjp(ct, [, a, d], _out, _params, needs) {
    return [needs[0] ? ct : null, needs[1] ? matmul(ct, d!) : null, needs[2] ? matmul(a!, ct) : null];
  },
};

function addOuter(s: Tensor, a: Tensor, d: Tensor): Tensor {
  return bind(addOuterPrim, [s, a, d], undefined);
}

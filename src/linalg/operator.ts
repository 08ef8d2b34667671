/**
 * Linear operators on pytrees: `LinearOperator` (a matvec with explicit, differentiable parameters, an optional
 * transpose and structure tags) and the combinators `compose`, `addOperators`, `scale`, `ridge`, `diagonal`,
 * `identity`.
 *
 * An operator is `v ↦ mv(params, v)`, linear in `v`. Everything it depends on that may be differentiated lives in
 * `params`, so a solve with it can be differentiated with respect to the operator (see `linearSolve`): the
 * derivative rules rebuild the operator at other parameter values with `withParams`. The tags are promises made
 * by the caller (checked only where that is cheap, e.g. symmetry of a dense matrix) and drive the choice of solver.
 *
 * @module
 */
import { BatchingError, DifferentiationError, ShapeError, TreeMismatchError, ValueError } from "../core/errors.js";
import { allocFloat64 } from "../core/alloc.js";
import { topLevel } from "../core/engine.js";
import { Tensor, eye, isBatched, onesLike, zerosLike } from "../core/tensor.js";
import { batchLoop, vmap } from "../core/vmap.js";
import { elementNote, forEachElement } from "../core/element-values.js";
import { add as addTensors, mul } from "../core/ops/elementwise.js";
import { matmul, matrixTranspose } from "../core/ops/matmul.js";
import { reshape } from "../core/ops/shape.js";
import { concatenate, split, stack } from "../core/ops/join.js";
import { vjp } from "../core/transforms.js";
import { describe, flatten, flattenLike, map, unflatten, type Tree, type TreeDef } from "../core/tree.js";
import { add as addTrees, scale as scaleTree } from "../core/tree.js";

/**
 * Structure of an operator, promised by its creator. `positiveDefinite` implies `symmetric` for the solvers
 * (Cholesky and CG need both); `positiveSemidefinite` (implied by `positiveDefinite`) matters for {@link ridge}.
 */
export interface OperatorTags {
  symmetric?: boolean;
  positiveDefinite?: boolean;
  positiveSemidefinite?: boolean;
  diagonal?: boolean;
  triangular?: "lower" | "upper";
}

/** A LinearOperator with any params type (operators are invariant in their params type; this accepts all). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyLinearOperator = LinearOperator<any>;

/** @internal How an operator is built; shared by every operator obtained from it by `withParams`. */
interface OperatorSpec<P extends Tree> {
  readonly mv: (params: P, v: Tree) => Tree;
  /** The transposed map, or null to derive it by a VJP of `mv` in `v`. */
  readonly rmv: ((params: P, u: Tree) => Tree) | null;
  readonly inExample: Tree;
  readonly outExample: Tree;
  readonly tags: OperatorTags;
  /** The dense matrix, when it is cheaper than one matvec per column. */
  readonly dense?: (params: P) => Tensor;
  /** The diagonal values (flattened), when known without matvecs. */
  readonly diagonalValues?: (params: P) => Float64Array;
}

/** Concrete zeros with the structure and shapes of `t` (an example only carries shapes). */
function shapeExample(t: Tree): Tree {
  const [leaves, def] = flatten(t);
  return unflatten(
    def,
    leaves.map((l) => zerosLike(l)),
  );
}

function sizeOf(t: Tree): number {
  let n = 0;
  for (const l of flatten(t)[0]) n += l.size;
  return n;
}

function sameLayout(a: Tree, b: Tree): boolean {
  const [al, ad] = flatten(a);
  try {
    flattenLike(b, ad, al, "");
    return true;
  } catch {
    return false;
  }
}

function layout(t: Tree): string {
  const [leaves, def] = flatten(t);
  return `${describe(def)} with shapes ${leaves.map((l) => `[${l.shape.join(", ")}]`).join(", ")}`;
}

/** The map u ↦ (∂/∂v mv(params, v))ᵀ u, by reverse mode; refuses an `mv` not written with diffopt ops. */
function derivedTranspose<P extends Tree>(mv: (params: P, v: Tree) => Tree, inExample: Tree) {
  return (params: P, u: Tree): Tree => {
    let traced = true;
    const [, pullback] = vjp<Tree>((v: Tree) => {
      const out = mv(params, v);
      const level = topLevel(flatten(v)[0]);
      traced = flatten(out)[0].some((l) => l.level === level);
      return out;
    }, inExample);
    if (!traced) {
      const [leaves, def] = flatten(inExample);
      const probe = mv(
        params,
        unflatten(
          def,
          leaves.map((l) => onesLike(l)),
        ),
      );
      if (flatten(probe)[0].some((l) => l.raw.some((x) => x !== 0))) {
        throw new DifferentiationError(
          "LinearOperator.rmatvec: the matvec is not written with diffopt ops on its input, so its transpose cannot be derived; pass `rmatvec` to LinearOperator.fromFunction",
        );
      }
    }
    return pullback(u)[0]!;
  };
}

function transposeTags(tags: OperatorTags): OperatorTags {
  const out: OperatorTags = { ...tags };
  if (tags.triangular !== undefined) out.triangular = tags.triangular === "lower" ? "upper" : "lower";
  return out;
}

/**
 * A linear map `v ↦ mv(params, v)` between spaces of pytrees. Build one with {@link LinearOperator.fromMatrix}
 * or {@link LinearOperator.fromFunction}, or with the combinators ({@link compose}, {@link addOperators},
 * {@link scale}, {@link ridge}, {@link diagonal}, {@link identity}).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[2, 1], [0, 3]]));
 * A.matvec(tensor([1, 1])).toArray();  // [3, 3]
 * A.rmatvec(tensor([1, 1])).toArray(); // [2, 4]
 * A.transpose().materialize().toArray(); // [[2, 0], [1, 3]]
 * ```
 */
export class LinearOperator<P extends Tree = Tree> {
  /** Every tensor the operator depends on: the differentiable inputs of the operator. */
  readonly params: P;
  /** A pytree with the structure and shapes of the input space (values unused). */
  readonly inExample: Tree;
  /** A pytree with the structure and shapes of the output space (values unused). */
  readonly outExample: Tree;
  /** Structure promised by the creator; drives the choice of solver. */
  readonly tags: OperatorTags;
  /** The matvec as a function of the parameters: `matvec(v) = mv(params, v)`. */
  readonly mv: (params: P, v: Tree) => Tree;
  /** The transposed matvec as a function of the parameters (given, or derived by a VJP of `mv` in `v`). */
  readonly rmv: (params: P, u: Tree) => Tree;
  /** Number of scalars in the input space. */
  readonly inSize: number;
  /** Number of scalars in the output space. */
  readonly outSize: number;
  /** @internal */
  readonly spec: OperatorSpec<P>;

  /** @internal Use {@link LinearOperator.fromMatrix}, {@link LinearOperator.fromFunction} or the combinators. */
  constructor(spec: OperatorSpec<P>, params: P) {
    this.spec = spec;
    this.params = params;
    this.inExample = spec.inExample;
    this.outExample = spec.outExample;
    this.tags = spec.tags;
    this.mv = spec.mv;
    this.rmv = spec.rmv ?? derivedTranspose(spec.mv, spec.inExample);
    this.inSize = sizeOf(spec.inExample);
    this.outSize = sizeOf(spec.outExample);
  }

  /**
   * A·v. `v` must have the structure and shapes of `inExample`.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "diffopt";
   * linalg.LinearOperator.fromMatrix(tensor([[1, 2], [3, 4]])).matvec(tensor([1, 0])).toArray(); // [1, 3]
   * ```
   */
  matvec<R extends Tree = Tensor>(v: Tree): R {
    checkLayout(v, this.inExample, "LinearOperator.matvec", "v");
    return this.mv(this.params, v) as R;
  }

  /**
   * Aᵀ·u. `u` must have the structure and shapes of `outExample`.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "diffopt";
   * linalg.LinearOperator.fromMatrix(tensor([[1, 2], [3, 4]])).rmatvec(tensor([1, 0])).toArray(); // [1, 2]
   * ```
   */
  rmatvec<R extends Tree = Tensor>(u: Tree): R {
    checkLayout(u, this.outExample, "LinearOperator.rmatvec", "u");
    return this.rmv(this.params, u) as R;
  }

  /**
   * The same operator at other parameter values (of the same structure and shapes).
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "diffopt";
   * const A = linalg.LinearOperator.fromMatrix(tensor([[1, 0], [0, 1]]));
   * A.withParams(tensor([[2, 0], [0, 2]])).matvec(tensor([1, 1])).toArray(); // [2, 2]
   * ```
   */
  withParams(params: P): LinearOperator<P> {
    const [old, def] = flatten(this.params);
    try {
      flattenLike(params, def, old, "");
    } catch {
      throw new TreeMismatchError(
        `LinearOperator.withParams: params ${layout(params)} do not match the operator's ${layout(this.params)}`,
      );
    }
    return new LinearOperator(this.spec, params);
  }

  /**
   * The transposed operator (same params; tags carried over, a triangular side swapped). A symmetric operator
   * is its own transpose.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "diffopt";
   * linalg.LinearOperator.fromMatrix(tensor([[1, 2], [3, 4]])).transpose().matvec(tensor([1, 0])).toArray(); // [1, 2]
   * ```
   */
  transpose(): LinearOperator<P> {
    if (this.tags.symmetric || this.tags.positiveDefinite || this.tags.diagonal) return this;
    const s = this.spec;
    const spec: OperatorSpec<P> = {
      mv: this.rmv,
      rmv: s.mv,
      inExample: s.outExample,
      outExample: s.inExample,
      tags: transposeTags(s.tags),
      ...(s.dense ? { dense: (p: P) => matrixTranspose(s.dense!(p)) } : {}),
      ...(s.diagonalValues ? { diagonalValues: s.diagonalValues } : {}),
    };
    return new LinearOperator(spec, this.params);
  }

  /**
   * The dense matrix, of shape [outSize, inSize] (input and output pytrees flattened leaf by leaf, row-major).
   * Costs one matvec batched over the columns of the identity (`vmap`), or one matvec per column when the matvec
   * cannot batch, unless the operator knows its matrix. Differentiable in the params.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "diffopt";
   * linalg.diagonal(tensor([1, 2])).materialize().toArray(); // [[1, 0], [0, 2]]
   * ```
   */
  materialize(): Tensor {
    if (this.spec.dense) return this.spec.dense(this.params);
    const n = this.inSize;
    const m = this.outSize;
    if (n > 0) {
      try {
        // One matvec batched over the identity (one matrix product where the operator is a product): row j is
        // M·eⱼ, the column j of M. A matvec that reads plain numbers cannot batch: then one column at a time.
        const rows = vmap((e: Tensor) => toVector(this.matvec(fromVector(e, this.inExample))))(eye(n)) as Tensor;
        return rows.T;
      } catch (e) {
        if (!(e instanceof BatchingError)) throw e;
      }
    }
    const [inLeaves, inDef] = flatten(this.inExample);
    const [outLeaves, outDef] = flatten(this.outExample);
    const columns: Tensor[] = [];
    let traced = false;
    for (let j = 0; j < n; j++) {
      const e = allocFloat64(n);
      e[j] = 1;
      const out = this.mv(this.params, unflattenFlat(inDef, inLeaves, e));
      const leaves = flattenLike(out, outDef, outLeaves, "LinearOperator.materialize: matvec output");
      const column =
        leaves.length === 1 ? reshape(leaves[0]!, [m]) : concatenate(leaves.map((l) => reshape(l, [l.size])));
      if (column.level > 0) traced = true;
      columns.push(column);
    }
    if (n === 0) return new Tensor(new Float64Array(0), [m, 0]);
    if (traced) return stack(columns, 1);
    const data = allocFloat64(m * n);
    for (let j = 0; j < n; j++) {
      const c = columns[j]!.raw;
      for (let i = 0; i < m; i++) data[i * n + j] = c[i]!;
    }
    return new Tensor(data, [m, n]);
  }

  /**
   * The operator of a dense matrix `A` of shape [m, n], acting on vectors of shape [n]; its params are `A`.
   * A `symmetric` tag is checked against the values of `A`.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "diffopt";
   * const A = linalg.LinearOperator.fromMatrix(tensor([[4, 1], [1, 3]]), { symmetric: true, positiveDefinite: true });
   * A.matvec(tensor([1, 2])).toArray(); // [6, 7]
   * ```
   */
  static fromMatrix(A: Tensor, tags: OperatorTags = {}): LinearOperator<Tensor> {
    if (!(A instanceof Tensor) || A.ndim !== 2) {
      const what = A instanceof Tensor ? `shape [${A.shape.join(", ")}]` : typeof A;
      throw new ShapeError(`LinearOperator.fromMatrix: A must be a 2-D tensor, got ${what}`);
    }
    const [m, n] = A.shape as [number, number];
    checkSquareTags(tags, m === n, `LinearOperator.fromMatrix: A of shape [${m}, ${n}]`);
    if (tags.symmetric || tags.positiveDefinite) {
      // Under vmap, every element's matrix is checked (a matrix batched below a derivative transform, as in
      // vmap(grad(f)), cannot be read element by element there and is trusted).
      if (!isBatched(A)) checkSymmetric(A.raw, n);
      else batchLoop("LinearOperator.fromMatrix", (a) => (checkSymmetric((a as Tensor).raw, n), a), [A]);
    }
    const spec: OperatorSpec<Tensor> = {
      mv: (a, v) => matmul(a, v as Tensor),
      rmv: (a, u) => matmul(u as Tensor, a),
      inExample: new Tensor(allocFloat64(n), [n]),
      outExample: new Tensor(allocFloat64(m), [m]),
      tags: { ...tags },
      dense: (a) => a,
      diagonalValues: (a) => {
        const d = allocFloat64(Math.min(m, n));
        for (let i = 0; i < d.length; i++) d[i] = a.raw[i * n + i]!;
        return d;
      },
    };
    return new LinearOperator(spec, A);
  }

  /**
   * The operator `v ↦ mv(params, v)` on pytrees shaped like `inExample`. `mv` must be linear in `v`, written
   * with diffopt ops, and depend on differentiable values only through `params` (a solve throws a
   * `DifferentiationError` if it closes over a traced tensor). Without `rmatvec`, the transpose is derived by
   * reverse mode through `mv`.
   *
   * @example
   * ```ts
   * import { linalg, tensor, mul } from "diffopt";
   * // a diagonal scaling of a pytree {a, b} by a parameter d
   * const op = linalg.LinearOperator.fromFunction(
   *   (d, v) => ({ a: mul(d, v.a), b: mul(2, v.b) }),
   *   tensor([1, 2, 3]),
   *   { a: tensor([0, 0, 0]), b: tensor([0, 0]) },
   *   { tags: { symmetric: true } },
   * );
   * op.matvec({ a: tensor([1, 1, 1]), b: tensor([1, 1]) }); // { a: [1, 2, 3], b: [2, 2] }
   * ```
   */
  static fromFunction<P extends Tree>(
    // `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    mv: (params: P, v: any) => Tree,
    params: P,
    inExample: Tree,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    opts: { rmatvec?: (params: P, u: any) => Tree; outExample?: Tree; tags?: OperatorTags } = {},
  ): LinearOperator<P> {
    if (typeof mv !== "function")
      throw new ValueError(`LinearOperator.fromFunction: mv must be a function, got ${typeof mv}`);
    if (opts.rmatvec !== undefined && typeof opts.rmatvec !== "function") {
      throw new ValueError(`LinearOperator.fromFunction: rmatvec must be a function, got ${typeof opts.rmatvec}`);
    }
    const inEx = shapeExample(inExample);
    const outEx = opts.outExample === undefined ? inEx : shapeExample(opts.outExample);
    const tags = opts.tags ?? {};
    checkSquareTags(
      tags,
      sameLayout(inEx, outEx),
      `LinearOperator.fromFunction: input ${layout(inEx)} and output ${layout(outEx)}`,
    );
    return new LinearOperator<P>(
      { mv, rmv: opts.rmatvec ?? null, inExample: inEx, outExample: outEx, tags: { ...tags } },
      params,
    );
  }
}

function checkLayout(t: Tree, example: Tree, who: string, arg: string): void {
  if (!sameLayout(example, t)) {
    throw new TreeMismatchError(`${who}: ${arg} is ${layout(t)}, expected ${layout(example)}`);
  }
}

function checkSquareTags(tags: OperatorTags, square: boolean, what: string): void {
  const needsSquare =
    tags.symmetric || tags.positiveDefinite || tags.positiveSemidefinite || tags.diagonal || tags.triangular;
  if (needsSquare && !square) {
    throw new ShapeError(
      `${what}: the tags ${JSON.stringify(tags)} need a square operator (same input and output spaces)`,
    );
  }
}

function checkSymmetric(a: Float64Array, n: number): void {
  let scaleAbs = 0;
  for (let i = 0; i < a.length; i++) scaleAbs = Math.max(scaleAbs, Math.abs(a[i]!));
  const tol = 1e-10 * scaleAbs;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = Math.abs(a[i * n + j]! - a[j * n + i]!);
      if (d > tol) {
        throw new ValueError(
          `LinearOperator.fromMatrix: A is tagged symmetric but A[${i}, ${j}] = ${a[i * n + j]} differs from A[${j}, ${i}] = ${a[j * n + i]}`,
        );
      }
    }
  }
}

/** @internal The flattened pytree as one vector (differentiable). */
export function toVector(t: Tree): Tensor {
  const leaves = flatten(t)[0];
  return leaves.length === 1
    ? reshape(leaves[0]!, [leaves[0]!.size])
    : concatenate(leaves.map((l) => reshape(l, [l.size])));
}

/** @internal A vector split back into the structure and shapes of `like` (differentiable). */
export function fromVector(v: Tensor, like: Tree): Tree {
  const [leaves, def] = flatten(like);
  if (leaves.length === 1) return unflatten(def, [reshape(v, leaves[0]!.shape)]);
  const cuts: number[] = [];
  let acc = 0;
  for (const l of leaves.slice(0, -1)) cuts.push((acc += l.size));
  return unflatten(
    def,
    split(v, cuts).map((p, i) => reshape(p, leaves[i]!.shape)),
  );
}

/** @internal A pytree of the structure `def` (leaf shapes from `leaves`) holding fresh copies of `flat`'s values. */
export function unflattenFlat(def: TreeDef, leaves: readonly Tensor[], flat: Float64Array): Tree {
  let offset = 0;
  const out = leaves.map((l) => {
    const t = new Tensor(flat.slice(offset, offset + l.size), l.shape);
    offset += l.size;
    return t;
  });
  return unflatten(def, out);
}

/**
 * The composition a ∘ b: `v ↦ a(b(v))`. The output space of `b` must be the input space of `a`.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const a = linalg.LinearOperator.fromMatrix(tensor([[1, 1], [0, 1]]));
 * const b = linalg.diagonal(tensor([2, 3]));
 * linalg.compose(a, b).matvec(tensor([1, 1])).toArray(); // [5, 3]
 * ```
 */
export function compose<PA extends Tree, PB extends Tree>(
  a: LinearOperator<PA>,
  b: LinearOperator<PB>,
): LinearOperator<[PA, PB]> {
  if (!sameLayout(a.inExample, b.outExample)) {
    throw new ShapeError(
      `compose: the output of b (${layout(b.outExample)}) is not the input of a (${layout(a.inExample)})`,
    );
  }
  const tags: OperatorTags = {};
  if (a.tags.diagonal && b.tags.diagonal) {
    tags.diagonal = true;
    tags.symmetric = true;
  }
  if (a.tags.triangular !== undefined && a.tags.triangular === b.tags.triangular) tags.triangular = a.tags.triangular;
  return new LinearOperator<[PA, PB]>(
    {
      mv: (p, v) => a.mv(p[0], b.mv(p[1], v)),
      rmv: (p, u) => b.rmv(p[1], a.rmv(p[0], u)),
      inExample: b.inExample,
      outExample: a.outExample,
      tags,
    },
    [a.params, b.params],
  );
}

/**
 * The sum of operators with the same input and output spaces: `v ↦ Σ opᵢ(v)`. Tags common to all are kept.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const a = linalg.LinearOperator.fromMatrix(tensor([[1, 2], [3, 4]]));
 * linalg.addOperators(a, linalg.identity(tensor([0, 0]))).matvec(tensor([1, 0])).toArray(); // [2, 3]
 * ```
 */
export function addOperators(first: AnyLinearOperator, ...rest: AnyLinearOperator[]): LinearOperator<Tree[]> {
  const ops = [first, ...rest];
  ops.forEach((op, i) => {
    if (!sameLayout(op.inExample, first.inExample) || !sameLayout(op.outExample, first.outExample)) {
      throw new ShapeError(
        `addOperators: operator ${i} maps ${layout(op.inExample)} to ${layout(op.outExample)}, operator 0 maps ${layout(first.inExample)} to ${layout(first.outExample)}`,
      );
    }
  });
  const all = (f: (t: OperatorTags) => boolean | undefined) => ops.every((op) => f(op.tags) === true);
  const tags: OperatorTags = {};
  if (all((t) => t.symmetric || t.positiveDefinite || t.diagonal)) tags.symmetric = true;
  if (all((t) => t.diagonal)) tags.diagonal = true;
  const psd = (t: OperatorTags) => t.positiveDefinite || t.positiveSemidefinite;
  if (all(psd)) {
    tags.positiveSemidefinite = true;
    if (ops.some((op) => op.tags.positiveDefinite)) tags.positiveDefinite = true;
  }
  const tri = first.tags.triangular;
  if (tri !== undefined && all((t) => t.triangular === tri || t.diagonal)) tags.triangular = tri;
  const sum = (outs: Tree[]): Tree => outs.reduce((acc, o) => addTrees(acc, o));
  return new LinearOperator<Tree[]>(
    {
      mv: (p, v) => sum(ops.map((op, i) => op.mv(p[i]!, v))),
      rmv: (p, u) => sum(ops.map((op, i) => op.rmv(p[i]!, u))),
      inExample: first.inExample,
      outExample: first.outExample,
      tags,
    },
    ops.map((op) => op.params),
  );
}

function scalarParam(x: number | Tensor, who: string, arg: string): Tensor {
  const t = typeof x === "number" ? new Tensor(new Float64Array([x]), []) : x;
  if (!(t instanceof Tensor) || t.size !== 1) {
    const what = t instanceof Tensor ? `shape [${t.shape.join(", ")}]` : typeof t;
    throw new ShapeError(`${who}: ${arg} must be a number or a one-element tensor, got ${what}`);
  }
  forEachElement(t, ([v], e) => {
    if (!Number.isFinite(v)) throw new ValueError(`${who}: ${arg} must be finite, got ${v}${elementNote(e)}`);
  });
  return t.ndim === 0 ? t : reshape(t, []);
}

/**
 * Whether every value of the tensors (of every batch element under `vmap`: an operator's tags hold for the whole
 * batch) passes `ok`.
 */
function everyValue(ts: readonly Tensor[], ok: (x: number) => boolean): boolean {
  let all = true;
  for (const t of ts) forEachElement(t, (d) => (all &&= d.every(ok)));
  return all;
}

/**
 * The operator α·A. `alpha` (a number or a scalar tensor) is a parameter: solves are differentiable in it.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * linalg.scale(linalg.identity(tensor([0, 0])), 3).matvec(tensor([1, 2])).toArray(); // [3, 6]
 * ```
 */
export function scale<P extends Tree>(
  op: LinearOperator<P>,
  alpha: number | Tensor,
): LinearOperator<{ op: P; alpha: Tensor }> {
  const a = scalarParam(alpha, "scale", "alpha");
  const t = op.tags;
  const tags: OperatorTags = {};
  if (t.symmetric || t.positiveDefinite) tags.symmetric = true;
  if (t.diagonal) tags.diagonal = true;
  if (t.triangular !== undefined) tags.triangular = t.triangular;
  if ((t.positiveDefinite || t.positiveSemidefinite) && everyValue([a], (v) => v >= 0)) {
    tags.positiveSemidefinite = true;
  }
  if (t.positiveDefinite && everyValue([a], (v) => v > 0)) tags.positiveDefinite = true;
  return new LinearOperator<{ op: P; alpha: Tensor }>(
    {
      mv: (p, x) => scaleTree(p.alpha, op.mv(p.op, x)),
      rmv: (p, u) => scaleTree(p.alpha, op.rmv(p.op, u)),
      inExample: op.inExample,
      outExample: op.outExample,
      tags,
      ...(op.spec.dense ? { dense: (p: { op: P; alpha: Tensor }) => mul(op.spec.dense!(p.op), p.alpha) } : {}),
    },
    { op: op.params, alpha: a },
  );
}

/**
 * The ridge-regularised operator A + ρI (A square). Tags: symmetric, diagonal and triangular are kept; positive
 * definite when ρ > 0 and A is tagged positive definite or positive semidefinite (a PSD matrix plus ρI with ρ > 0
 * is PD); positive semidefinite when ρ ≥ 0 and A is. `rho` is a parameter: solves are differentiable in it.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[1, 1], [1, 1]]), { symmetric: true, positiveSemidefinite: true });
 * const R = linalg.ridge(A, 0.5);
 * R.tags.positiveDefinite; // true
 * R.matvec(tensor([1, 0])).toArray(); // [1.5, 1]
 * ```
 */
export function ridge<P extends Tree>(
  op: LinearOperator<P>,
  rho: number | Tensor,
): LinearOperator<{ op: P; rho: Tensor }> {
  if (!sameLayout(op.inExample, op.outExample)) {
    throw new ShapeError(`ridge: A must be square, but maps ${layout(op.inExample)} to ${layout(op.outExample)}`);
  }
  const r = scalarParam(rho, "ridge", "rho");
  const t = op.tags;
  const nonNegative = everyValue([r], (v) => v >= 0);
  const positive = everyValue([r], (v) => v > 0);
  const tags: OperatorTags = {};
  if (t.symmetric || t.positiveDefinite) tags.symmetric = true;
  if (t.diagonal) tags.diagonal = true;
  if (t.triangular !== undefined) tags.triangular = t.triangular;
  const psd = t.positiveDefinite || t.positiveSemidefinite;
  if (psd && nonNegative) tags.positiveSemidefinite = true;
  if ((psd && positive) || (t.positiveDefinite && nonNegative)) tags.positiveDefinite = true;
  const n = op.inSize;
  return new LinearOperator<{ op: P; rho: Tensor }>(
    {
      mv: (p, x) => addTrees(op.mv(p.op, x), scaleTree(p.rho, x)),
      rmv: (p, u) => addTrees(op.rmv(p.op, u), scaleTree(p.rho, u)),
      inExample: op.inExample,
      outExample: op.outExample,
      tags,
      ...(op.spec.dense
        ? { dense: (p: { op: P; rho: Tensor }) => addTensors(op.spec.dense!(p.op), mul(eye(n), p.rho)) }
        : {}),
      ...(op.spec.diagonalValues
        ? {
            diagonalValues: (p: { op: P; rho: Tensor }) => {
              const d = op.spec.diagonalValues!(p.op).slice();
              for (let i = 0; i < d.length; i++) d[i]! += p.rho.raw[0]!;
              return d;
            },
          }
        : {}),
    },
    { op: op.params, rho: r },
  );
}

function flatData(t: Tree): Float64Array {
  const leaves = flatten(t)[0];
  if (leaves.length === 1) return leaves[0]!.raw;
  const out = allocFloat64(sizeOf(t));
  let off = 0;
  for (const l of leaves) {
    out.set(l.raw, off);
    off += l.size;
  }
  return out;
}

/**
 * The diagonal operator `v ↦ d ⊙ v` (leafwise) for a pytree `d`; its params are `d`. Tagged diagonal and
 * symmetric, and positive (semi)definite when every entry of `d` is positive (non-negative).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * linalg.diagonal(tensor([2, 3])).matvec(tensor([1, 1])).toArray(); // [2, 3]
 * ```
 */
export function diagonal<P extends Tree>(d: P): LinearOperator<P> {
  const leaves = flatten(d)[0];
  const n = sizeOf(d);
  const tags: OperatorTags = { diagonal: true, symmetric: true };
  if (everyValue(leaves, (x) => x >= 0)) tags.positiveSemidefinite = true;
  if (n > 0 && everyValue(leaves, (x) => x > 0)) tags.positiveDefinite = true;
  const mv = (p: P, v: Tree): Tree => map((a, b) => mul(a, b!), p, v);
  return new LinearOperator<P>(
    {
      mv,
      rmv: mv,
      inExample: shapeExample(d),
      outExample: shapeExample(d),
      tags,
      dense: (p) => {
        const leaves = flatten(p)[0];
        const row =
          leaves.length === 1
            ? reshape(leaves[0]!, [1, n])
            : reshape(concatenate(leaves.map((l) => reshape(l, [l.size]))), [1, n]);
        return mul(eye(n), row);
      },
      diagonalValues: (p) => flatData(p),
    },
    d,
  );
}

/**
 * The identity on pytrees shaped like `example` (no params).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * linalg.identity({ a: tensor([0, 0]) }).matvec({ a: tensor([1, 2]) }); // { a: tensor([1, 2]) }
 * ```
 */
export function identity(example: Tree): LinearOperator<null> {
  const ex = shapeExample(example);
  const n = sizeOf(ex);
  const mv = (_p: null, v: Tree): Tree => v;
  return new LinearOperator<null>(
    {
      mv,
      rmv: mv,
      inExample: ex,
      outExample: ex,
      tags: { diagonal: true, symmetric: true, positiveDefinite: true, positiveSemidefinite: true },
      dense: () => eye(n),
      diagonalValues: () => allocFloat64(n).fill(1),
    },
    null,
  );
}

/**
 * @internal The diagonal of a square operator as flat values: from the matrix or known diagonal when available,
 * otherwise by one matvec per column.
 */
export function diagonalValues(op: AnyLinearOperator): Float64Array {
  if (op.spec.diagonalValues) return op.spec.diagonalValues(op.params);
  const n = op.inSize;
  const [inLeaves, inDef] = flatten(op.inExample);
  const d = allocFloat64(n);
  for (let j = 0; j < n; j++) {
    const e = allocFloat64(n);
    e[j] = 1;
    d[j] = flatData(op.mv(op.params, unflattenFlat(inDef, inLeaves, e)))[j]!;
  }
  return d;
}

/**
 * Throws unless `op` is a {@link LinearOperator}; a matrix given instead is told how to wrap it.
 * @internal
 */
export function requireOperator(op: unknown, who: string): void {
  if (op instanceof LinearOperator) return;
  const got = op instanceof Tensor ? `a Tensor of shape [${op.shape.join(", ")}]` : typeof op;
  const hint = op instanceof Tensor ? "; wrap a matrix with linalg.LinearOperator.fromMatrix(A)" : "";
  throw new ValueError(`${who}: op must be a LinearOperator, got ${got}${hint}`);
}

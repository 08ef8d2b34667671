/**
 * The problem format shared by every QP solver, its checks, and its two views:
 * - a plain view (Float64Array data and matvec closures) that the solvers iterate on, off the autodiff tape;
 * - a differentiable view: the problem as a pytree of tensors (operators replaced by their params) that
 *   `customRoot` differentiates, and the inverse map that rebuilds the operators from traced params.
 *
 * Q enters through its symmetric part: the objective ½xᵀQx only sees (Q + Qᵀ)/2, so every solver and the
 * optimality condition use that part, and the gradient with respect to a dense Q is the true gradient over its
 * n² entries (hence symmetric). An operator tagged `symmetric` is used as it is.
 *
 * @internal
 * @module
 */
import { NonFiniteError, ShapeError, ValueError } from "../../core/errors.js";
import { Tensor } from "../../core/tensor.js";
import { add, mul } from "../../core/ops/elementwise.js";
import { matmul } from "../../core/ops/matmul.js";
import { flatten, type Tree } from "../../core/tree.js";
import { gemv } from "../../linalg/dense/kernels.js";
import { LinearOperator, type AnyLinearOperator } from "../../linalg/operator.js";

/** A matrix of a QP: a dense 2-D tensor or a linear operator on vectors (shape-[n] tensors). */
export type QPMatrix = Tensor | AnyLinearOperator;

/**
 * A quadratic program  min ½xᵀQx + cᵀx  s.t.  Ax = b,  Gx ≤ h. Q is n×n (only its symmetric part matters), A is
 * p×n, G is m×n; A and b come together, as do G and h.
 */
export interface QPProblem {
  Q: QPMatrix;
  c: Tensor;
  A?: QPMatrix;
  b?: Tensor;
  G?: QPMatrix;
  h?: Tensor;
}

/** The primal–dual solution of a QP: x, the multipliers ν of Ax = b and λ ≥ 0 of Gx ≤ h (absent parts undefined). */
export interface QPSolution {
  primal: Tensor;
  dualEq: Tensor | undefined;
  dualIneq: Tensor | undefined;
}

/**
 * A quadratic program in box form  min ½xᵀQx + cᵀx  s.t.  l ≤ Ax ≤ u  (OSQP's form): entries of l and u may be
 * ±Infinity (a one-sided or free row), and a row with lᵢ = uᵢ is an equality.
 */
export interface BoxQPProblem {
  Q: QPMatrix;
  c: Tensor;
  A: QPMatrix;
  l: Tensor;
  u: Tensor;
}

/**
 * The solution of a box-form QP: x and the signed multipliers y of l ≤ Ax ≤ u (yᵢ > 0 when the upper bound is
 * active, yᵢ < 0 when the lower one is, 0 when neither is).
 */
export interface BoxQPSolution {
  primal: Tensor;
  dual: Tensor;
}

/** @internal A matrix as plain closures (on concrete values), with its dense form when it has one. */
export interface PlainMatrix {
  rows: number;
  cols: number;
  mv(v: Float64Array): Float64Array;
  rmv(u: Float64Array): Float64Array;
  /** Row-major values (materialised on first use for an operator). */
  dense(): Float64Array;
  /** True when the matrix is a dense tensor (no materialisation cost). */
  isDense: boolean;
}

/** @internal The plain view of a QP. */
export interface PlainQP {
  n: number;
  p: number;
  m: number;
  /** The symmetric part of Q. */
  Q: PlainMatrix;
  c: Float64Array;
  A: PlainMatrix | null;
  b: Float64Array;
  G: PlainMatrix | null;
  h: Float64Array;
}

function denseMatrix(a: Float64Array, rows: number, cols: number): PlainMatrix {
  return {
    rows,
    cols,
    isDense: true,
    dense: () => a,
    mv: (v) => gemv(a, rows, cols, v, false),
    rmv: (u) => gemv(a, rows, cols, u, true),
  };
}

function operatorMatrix(op: AnyLinearOperator, rows: number, cols: number): PlainMatrix {
  let cached: Float64Array | null = null;
  const vec = (d: Float64Array, k: number) => new Tensor(d, [k]);
  return {
    rows,
    cols,
    isDense: false,
    dense: () => (cached ??= op.materialize().raw),
    mv: (v) => (op.matvec(vec(v, cols)) as Tensor).raw,
    rmv: (u) => (op.rmatvec(vec(u, rows)) as Tensor).raw,
  };
}

/** @internal The plain view of one matrix of the problem (`sym`: use the symmetric part of a dense or untagged Q). */
export function plainMatrix(M: QPMatrix, rows: number, cols: number, sym = false): PlainMatrix {
  if (M instanceof LinearOperator) {
    const base = operatorMatrix(M, rows, cols);
    if (!sym || M.tags.symmetric || M.tags.positiveDefinite || M.tags.diagonal) return base;
    return {
      ...base,
      mv: (v) => halfSum(base.mv(v), base.rmv(v)),
      rmv: (v) => halfSum(base.mv(v), base.rmv(v)),
      dense: () => symmetricPart(base.dense(), rows),
    };
  }
  return denseMatrix(sym ? symmetricPart(M.raw, rows) : M.raw, rows, cols);
}

function halfSum(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = 0.5 * (a[i]! + b[i]!);
  return out;
}

function symmetricPart(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = 0.5 * (a[i * n + j]! + a[j * n + i]!);
  return out;
}

/** The shape [rows, cols] of a matrix of the problem, checked. */
function matrixShape(M: unknown, who: string, name: string): [number, number] {
  if (M instanceof LinearOperator) {
    const [inLeaves] = flatten(M.inExample);
    const [outLeaves] = flatten(M.outExample);
    if (inLeaves.length !== 1 || inLeaves[0]!.ndim !== 1 || outLeaves.length !== 1 || outLeaves[0]!.ndim !== 1) {
      throw new ShapeError(`${who}: problem.${name} must be an operator between vectors (1-D tensors)`);
    }
    return [M.outSize, M.inSize];
  }
  if (!(M instanceof Tensor) || M.ndim !== 2) {
    const what = M instanceof Tensor ? `shape [${M.shape.join(", ")}]` : typeof M;
    throw new ShapeError(`${who}: problem.${name} must be a 2-D tensor or a linalg.LinearOperator, got ${what}`);
  }
  checkFinite(M, who, name);
  return [M.shape[0]!, M.shape[1]!];
}

function checkFinite(t: Tensor, who: string, name: string): void {
  const d = t.raw;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i]!))
      throw new NonFiniteError(`${who}: problem.${name} has a non-finite entry ${d[i]} at ${i}`);
  }
}

function vectorArg(v: unknown, size: number, who: string, name: string, infinite = false): Tensor {
  if (!(v instanceof Tensor) || v.ndim !== 1 || v.size !== size) {
    const what = v instanceof Tensor ? `shape [${v.shape.join(", ")}]` : typeof v;
    throw new ShapeError(`${who}: problem.${name} must be a vector of length ${size}, got ${what}`);
  }
  if (!infinite) checkFinite(v, who, name);
  else if (v.raw.some(Number.isNaN)) throw new NonFiniteError(`${who}: problem.${name} has a NaN entry`);
  return v;
}

/** @internal Checks a box-form problem (l ≤ u, no NaN; infinite bounds allowed); returns n and m. */
export function checkBoxProblem(problem: BoxQPProblem, who: string): { n: number; m: number } {
  if (problem === null || typeof problem !== "object") {
    throw new ValueError(`${who}: problem must be an object { Q, c, A, l, u }, got ${String(problem)}`);
  }
  const [qr, qc] = matrixShape(problem.Q, who, "Q");
  if (qr !== qc) throw new ShapeError(`${who}: problem.Q must be square, got ${qr}×${qc}`);
  vectorArg(problem.c, qc, who, "c");
  const [m, cols] = matrixShape(problem.A, who, "A");
  if (cols !== qc) throw new ShapeError(`${who}: problem.A must have ${qc} columns (the size of c), got ${cols}`);
  const l = vectorArg(problem.l, m, who, "l", true).raw;
  const u = vectorArg(problem.u, m, who, "u", true).raw;
  for (let i = 0; i < m; i++) {
    if (!(l[i]! <= u[i]!)) throw new ValueError(`${who}: problem.l[${i}] = ${l[i]} exceeds problem.u[${i}] = ${u[i]}`);
  }
  return { n: qc, m };
}

/** @internal Sizes of a checked problem. */
export interface QPSizes {
  n: number;
  p: number;
  m: number;
}

/** @internal Checks shapes, pairing (A with b, G with h) and finiteness; returns n, p, m. */
export function checkProblem(problem: QPProblem, who: string): QPSizes {
  if (problem === null || typeof problem !== "object") {
    throw new ValueError(`${who}: problem must be an object { Q, c, A?, b?, G?, h? }, got ${String(problem)}`);
  }
  const [qr, qc] = matrixShape(problem.Q, who, "Q");
  if (qr !== qc) throw new ShapeError(`${who}: problem.Q must be square, got ${qr}×${qc}`);
  const n = qc;
  vectorArg(problem.c, n, who, "c");
  const pair = (M: QPMatrix | undefined, v: Tensor | undefined, mName: string, vName: string): number => {
    if ((M === undefined) !== (v === undefined)) {
      throw new ValueError(`${who}: problem.${mName} and problem.${vName} must be given together`);
    }
    if (M === undefined) return 0;
    const [r, cols] = matrixShape(M, who, mName);
    if (cols !== n)
      throw new ShapeError(`${who}: problem.${mName} must have ${n} columns (the size of c), got ${cols}`);
    vectorArg(v, r, who, vName);
    return r;
  };
  return { n, p: pair(problem.A, problem.b, "A", "b"), m: pair(problem.G, problem.h, "G", "h") };
}

/** @internal The plain view of a checked problem (its tensors must be concrete). */
export function plainProblem(problem: QPProblem, { n, p, m }: QPSizes): PlainQP {
  return {
    n,
    p,
    m,
    Q: plainMatrix(problem.Q, n, n, true),
    c: problem.c.raw,
    A: problem.A ? plainMatrix(problem.A, p, n) : null,
    b: problem.b ? problem.b.raw : new Float64Array(0),
    G: problem.G ? plainMatrix(problem.G, m, n) : null,
    h: problem.h ? problem.h.raw : new Float64Array(0),
  };
}

/** @internal The leaves `customRoot` differentiates: the problem with operators replaced by their params. */
export function problemTree(problem: Record<string, QPMatrix | undefined>): Record<string, Tree> {
  const out: Record<string, Tree> = {};
  for (const [k, v] of Object.entries(problem)) {
    if (v !== undefined) out[k] = v instanceof LinearOperator ? (v.params as Tree) : v;
  }
  return out;
}

/** @internal The inverse of {@link problemTree}: operators of `like` rebuilt at the (possibly traced) params. */
export function rebuildProblem<P extends object>(tree: Record<string, Tree>, like: P): P {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(like)) {
    if (v === undefined) continue;
    out[k] = v instanceof LinearOperator ? v.withParams(tree[k]) : tree[k];
  }
  return out as P;
}

/** @internal M·x with tensors (differentiable; dense or operator). */
export function apply(M: QPMatrix, x: Tensor): Tensor {
  return M instanceof LinearOperator ? (M.matvec(x) as Tensor) : matmul(M, x);
}

/** @internal Mᵀ·u with tensors (differentiable; dense or operator). */
export function applyT(M: QPMatrix, u: Tensor): Tensor {
  return M instanceof LinearOperator ? (M.rmatvec(u) as Tensor) : matmul(u, M);
}

/** @internal ½(Q + Qᵀ)·x with tensors; Q·x for an operator tagged symmetric. */
export function applySym(Q: QPMatrix, x: Tensor): Tensor {
  if (Q instanceof LinearOperator && (Q.tags.symmetric || Q.tags.positiveDefinite || Q.tags.diagonal)) {
    return Q.matvec(x) as Tensor;
  }
  return mul(0.5, add(apply(Q, x), applyT(Q, x)));
}

/** @internal ‖v‖∞ of a plain vector (0 when empty). */
export function normInf(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s = Math.max(s, Math.abs(v[i]!));
  return s;
}

/** @internal uᵀv of plain vectors. */
export function dotPlain(u: Float64Array, v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i]! * v[i]!;
  return s;
}

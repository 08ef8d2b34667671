/**
 * The machinery shared by the matrix-free solvers: pytree ↔ flat-vector conversion, the flat view of an operator
 * (with the check that it does not close over traced tensors), option validation, the BLAS-1 loops, and the
 * driver that certifies a solution by its true residual.
 *
 * Every solver works on concrete values: the iterations are never taped. `linearSolve` makes solves
 * differentiable by an implicit rule instead.
 *
 * @module
 */
import { DifferentiationError, NonFiniteError, TreeMismatchError, ValueError } from "../../core/errors.js";
import { Tensor } from "../../core/tensor.js";
import { batchLoop } from "../../core/vmap.js";
import { describe, flatten, flattenLike, unflatten, type Tree, type TreeDef } from "../../core/tree.js";
import { LinearSolveError } from "../dense/errors.js";
import { LinearOperator, requireOperator, type AnyLinearOperator } from "../operator.js";

/** Options of the iterative solvers (`cg`, `minres`, `gmres`, `bicgstab`; see each for its defaults). */
export interface KrylovOptions {
  /** Relative tolerance: stop when ‖r‖ ≤ max(rtol·‖b‖, atol). Default 1e-10. */
  rtol?: number;
  /** Absolute tolerance. Default 0. */
  atol?: number;
  /** Iteration cap (matvecs for CG/MINRES/GMRES, double steps for BiCGSTAB). Default 10·n (at least 100). */
  maxIter?: number;
  /** Initial guess (warm start), shaped like the operator's input. Default zeros. */
  x0?: Tree;
  /**
   * An approximation of A⁻¹, applied to residuals (a LinearOperator, or a function of pytrees). It must be
   * symmetric positive definite for CG and MINRES. See {@link jacobiPreconditioner}.
   */
  preconditioner?: AnyLinearOperator | ((r: Tree) => Tree);
  /** Throw a `LinearSolveError` when the tolerance is not reached (default true); else report converged: false. */
  throwOnFailure?: boolean;
}

/** Options of GMRES: {@link KrylovOptions} and the restart length. */
export interface GmresOptions extends KrylovOptions {
  /** Krylov basis size before a restart. Default min(n, 50). */
  restart?: number;
}

/**
 * Options of the least-squares solvers (`normalCg`, `lsqr`), whose convergence test is on the normal equations:
 * ‖Aᵀ(b − A x)‖ ≤ max(rtol·‖Aᵀb‖, atol).
 */
export type LeastSquaresOptions = Omit<KrylovOptions, "preconditioner">;

/**
 * What an iterative solver reports. Under `vmap` (the solver runs once per batch element) it sums up the batch: the
 * most iterations, the largest residual norm, and `converged` when every element converged.
 */
export interface KrylovInfo {
  /** Iterations run. */
  iterations: number;
  /** ‖b − A x‖ of the returned x (‖Aᵀ(b − A x)‖ for the least-squares solvers), recomputed, not estimated. */
  residualNorm: number;
  /** Whether the residual meets the tolerance. */
  converged: boolean;
}

/** A solution and how it was obtained. */
export interface KrylovResult<T extends Tree = Tree> {
  /** The solution, a pytree shaped like the operator's input space. */
  value: T;
  info: KrylovInfo;
}

/** @internal The flat layout of a space of pytrees. */
export class FlatSpace {
  readonly def: TreeDef;
  readonly leaves: readonly Tensor[];
  readonly size: number;

  constructor(example: Tree) {
    const [leaves, def] = flatten(example);
    this.def = def;
    this.leaves = leaves;
    let n = 0;
    for (const l of leaves) n += l.size;
    this.size = n;
  }

  /**
   * The values of `t` (of this layout) as one vector. With a single leaf this is the leaf's own storage: the
   * caller must treat it as read-only.
   */
  read(t: Tree, what: string): Float64Array {
    const leaves = flattenLike(t, this.def, this.leaves, what);
    if (leaves.length === 1) return leaves[0]!.raw;
    const out = new Float64Array(this.size);
    let off = 0;
    for (const l of leaves) {
      out.set(l.raw, off);
      off += l.size;
    }
    return out;
  }

  /** A pytree of this layout holding fresh copies of the values of `x`. */
  tree(x: Float64Array): Tree {
    let off = 0;
    const leaves = this.leaves.map((l) => {
      const t = new Tensor(x.slice(off, off + l.size), l.shape);
      off += l.size;
      return t;
    });
    return unflatten(this.def, leaves);
  }

  describe(): string {
    return `${describe(this.def)} with shapes ${this.leaves.map((l) => `[${l.shape.join(", ")}]`).join(", ")}`;
  }
}

/** @internal An operator on flat vectors. Results may share storage with tensors: read-only. */
export interface FlatOperator {
  readonly n: number;
  readonly m: number;
  apply(x: Float64Array): Float64Array;
  applyT(u: Float64Array): Float64Array;
}

/** @internal A flat preconditioner (read-only result). */
export type FlatPreconditioner = (r: Float64Array) => Float64Array;

function closureError(who: string, which: string): DifferentiationError {
  return new DifferentiationError(
    `${who}: the operator's ${which} returned a tensor traced by a transform although its params and input are concrete: ` +
      "it closes over a tensor that is being differentiated, whose derivative would be lost. Pass that tensor through " +
      "the operator's params (LinearOperator.fromFunction(mv, params, …)) so the solve is differentiated with respect to it",
  );
}

/** @internal The flat view of `op` (at its current params, which must be concrete). */
export function flatOperator(op: AnyLinearOperator, who: string): FlatOperator {
  const inSpace = new FlatSpace(op.inExample);
  const outSpace = new FlatSpace(op.outExample);
  const run = (f: (p: Tree, v: Tree) => Tree, from: FlatSpace, to: FlatSpace, x: Float64Array, which: string) => {
    const out = f(op.params, from.tree(x));
    const leaves = flatten(out)[0];
    for (const l of leaves) if (l.level > 0) throw closureError(who, which);
    return to.read(out, `${who}: ${which} output`);
  };
  return {
    n: inSpace.size,
    m: outSpace.size,
    apply: (x) => run(op.mv, inSpace, outSpace, x, "matvec"),
    applyT: (u) => run(op.rmv, outSpace, inSpace, u, "rmatvec"),
  };
}

/** @internal The flat view of a preconditioner (its values only: a preconditioner never changes the solution). */
export function flatPreconditioner(
  pre: AnyLinearOperator | ((r: Tree) => Tree),
  space: FlatSpace,
  who: string,
): FlatPreconditioner {
  if (pre instanceof LinearOperator) {
    if (pre.inSize !== space.size || pre.outSize !== space.size) {
      throw new TreeMismatchError(
        `${who}: the preconditioner maps ${pre.inSize} to ${pre.outSize} values, the system has ${space.size}`,
      );
    }
    const pin = new FlatSpace(pre.inExample);
    const pout = new FlatSpace(pre.outExample);
    return (r) => pout.read(pre.mv(pre.params, pin.tree(r)), `${who}: preconditioner output`);
  }
  if (typeof pre !== "function")
    throw new ValueError(`${who}: preconditioner must be a LinearOperator or a function, got ${typeof pre}`);
  return (r) => space.read(pre(space.tree(r)), `${who}: preconditioner output`);
}

/** @internal Validated numeric options with their defaults. */
export interface Settings {
  rtol: number;
  atol: number;
  maxIter: number;
  throwOnFailure: boolean;
}

/** @internal */
export function settings(
  opts: { rtol?: number; atol?: number; maxIter?: number; throwOnFailure?: boolean },
  n: number,
  who: string,
): Settings {
  const rtol = opts.rtol ?? 1e-10;
  const atol = opts.atol ?? 0;
  if (!(rtol >= 0 && Number.isFinite(rtol)))
    throw new ValueError(`${who}: rtol must be a finite number ≥ 0, got ${rtol}`);
  if (!(atol >= 0 && Number.isFinite(atol)))
    throw new ValueError(`${who}: atol must be a finite number ≥ 0, got ${atol}`);
  const maxIter = opts.maxIter ?? Math.max(100, 10 * n);
  if (!Number.isInteger(maxIter) || maxIter < 0)
    throw new ValueError(`${who}: maxIter must be an integer ≥ 0, got ${maxIter}`);
  return { rtol, atol, maxIter, throwOnFailure: opts.throwOnFailure ?? true };
}

/** @internal Throws a NonFiniteError naming `what` when `x` has a NaN or infinite entry. */
export function checkFiniteFlat(x: Float64Array, who: string, what: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]))
      throw new NonFiniteError(`${who}: ${what} has a non-finite entry ${x[i]} at flat index ${i}`);
  }
}

/** @internal Rejects traced inputs of the plain (non-differentiable) solvers. */
export function checkConcrete(op: AnyLinearOperator, b: Tree, who: string): void {
  const traced = [...flatten(op.params)[0], ...flatten(b)[0]].some((l) => l.level > 0);
  if (traced) {
    throw new DifferentiationError(
      `${who}: the operator's params or b are being differentiated, but ${who} runs on plain values; use linalg.linearSolve(op, b, { solver: "${who}" }), which is differentiable`,
    );
  }
}

// ---- BLAS-1 loops on flat vectors ----

/** @internal Σ aᵢbᵢ. */
export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
  return s;
}

/** @internal ‖a‖₂, guarded against overflow for large entries. */
export function nrm2(a: Float64Array): number {
  let s = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) s += a[i]! * a[i]!;
  if (s > 1e300 || (s < 1e-300 && s > 0)) {
    let scale = 0;
    for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(a[i]!));
    if (scale === 0 || !Number.isFinite(scale)) return scale;
    let t = 0;
    for (let i = 0; i < n; i++) {
      const v = a[i]! / scale;
      t += v * v;
    }
    return scale * Math.sqrt(t);
  }
  return Math.sqrt(s);
}

/** @internal y ← y + αx. */
export function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  const n = y.length;
  for (let i = 0; i < n; i++) y[i]! += alpha * x[i]!;
}

/** @internal b − A x (b when x is zero, without a matvec), as a fresh vector. */
export function residual(A: FlatOperator, b: Float64Array, x: Float64Array): Float64Array {
  let zero = true;
  for (let i = 0; i < x.length && zero; i++) if (x[i] !== 0) zero = false;
  const r = b.slice();
  if (zero) return r;
  const ax = A.apply(x);
  for (let i = 0; i < r.length; i++) r[i]! -= ax[i]!;
  return r;
}

// ---- the driver ----

/** @internal What a kernel reports after updating x in place. */
export interface KernelRun {
  iterations: number;
  /** A failure restarting cannot fix (e.g. CG finding pᵀAp ≤ 0). */
  fatal?: string;
}

/** @internal The context a kernel runs in. */
export interface KernelContext {
  /** Stop when the solver's own residual estimate is at most this. */
  tol: number;
  /** Iteration budget of this run. */
  maxIter: number;
  precond: FlatPreconditioner | null;
}

/** @internal A solver kernel: improves x in place. */
export type Kernel = (A: FlatOperator, b: Float64Array, x: Float64Array, ctx: KernelContext) => KernelRun;

/** @internal The outcome of {@link drive}. */
export interface FlatSolution {
  x: Float64Array;
  info: KrylovInfo;
  /** Why the solve failed, when it did. */
  failure?: string;
}

/**
 * @internal Runs `kernel` from `x0` until the *true* residual (‖b − Ax‖, or ‖Aᵀ(b − Ax)‖ for `normal`) meets
 * max(rtol·‖b‖, atol) (‖Aᵀb‖ for `normal`). When the kernel's estimate says converged but the true residual
 * does not, it restarts from the current x with a tighter estimate target, within the iteration budget.
 */
export function drive(
  name: string,
  kernel: Kernel,
  A: FlatOperator,
  b: Float64Array,
  x0: Float64Array | null,
  s: Settings,
  precond: FlatPreconditioner | null,
  normal = false,
): FlatSolution {
  const trueResidual = (x: Float64Array): number => {
    const r = residual(A, b, x);
    return normal ? nrm2(A.applyT(r)) : nrm2(r);
  };
  const x = x0 ? x0.slice() : new Float64Array(A.n);
  const scaleNorm = normal ? nrm2(A.applyT(b)) : nrm2(b);
  const tol = Math.max(s.rtol * scaleNorm, s.atol);
  let target = tol;
  let total = 0;
  let res = x0 ? trueResidual(x) : scaleNorm;
  let fatal: string | undefined;
  while (!(res <= tol) && total < s.maxIter) {
    const run = kernel(A, b, x, { tol: target, maxIter: s.maxIter - total, precond });
    total += run.iterations;
    res = trueResidual(x);
    if (run.fatal !== undefined) {
      fatal = run.fatal;
      break;
    }
    if (run.iterations === 0 || !Number.isFinite(res)) break;
    if (res > tol) target = Math.min(target * 0.5, (target * tol) / res);
  }
  const converged = res <= tol && fatal === undefined;
  const info: KrylovInfo = { iterations: total, residualNorm: res, converged };
  if (converged) return { x, info };
  const measure = normal ? "‖Aᵀ(b − Ax)‖" : "‖b − Ax‖";
  const failure =
    fatal !== undefined
      ? `${name}: ${fatal} (after ${total} iterations, ${measure} = ${res.toExponential(3)})`
      : `${name}: did not converge in ${total} iterations: ${measure} = ${res.toExponential(3)} > tolerance ${tol.toExponential(3)} (max(rtol·${normal ? "‖Aᵀb‖" : "‖b‖"}, atol)); raise maxIter, use a preconditioner, or loosen rtol`;
  if (s.throwOnFailure) throw new LinearSolveError(failure, res, total);
  return { x, info, failure };
}

/** @internal Everything a public solver needs, validated. */
export interface Prepared {
  A: FlatOperator;
  b: Float64Array;
  x0: Float64Array | null;
  inSpace: FlatSpace;
  outSpace: FlatSpace;
}

/**
 * @internal Validates a solver call on `op` (whose params must be concrete) and `b`: layouts, finiteness,
 * squareness (unless `rectangular`), x0.
 */
export function prepare(
  op: AnyLinearOperator,
  b: Tree,
  x0: Tree | undefined,
  who: string,
  rectangular: boolean,
): Prepared {
  requireOperator(op, who);
  const inSpace = new FlatSpace(op.inExample);
  const outSpace = new FlatSpace(op.outExample);
  if (!rectangular && inSpace.size !== outSpace.size) {
    throw new TreeMismatchError(
      `${who}: needs a square operator, but it maps ${inSpace.size} values (${inSpace.describe()}) to ${outSpace.size} (${outSpace.describe()}); use lsqr or normalCg for least squares`,
    );
  }
  const bFlat = outSpace.read(b, `${who}: b vs the operator's output space`);
  checkFiniteFlat(bFlat, who, "b");
  let xFlat: Float64Array | null = null;
  if (x0 !== undefined && x0 !== null) {
    xFlat = inSpace.read(x0, `${who}: x0 vs the operator's input space`);
    checkFiniteFlat(xFlat, who, "x0");
  }
  return { A: flatOperator(op, who), b: bFlat, x0: xFlat, inSpace, outSpace };
}

/**
 * @internal The body every public Krylov solver shares: checks, flattening, the preconditioner, the driven
 * kernel (built for the flat size n) and the solution back as a pytree. `leastSquares` allows rectangular
 * operators and certifies ‖Aᵀ(b − Ax)‖.
 */
export function runKrylov<T extends Tree>(
  name: string,
  makeKernel: (n: number) => Kernel,
  op: AnyLinearOperator,
  b: T,
  opts: KrylovOptions | LeastSquaresOptions,
  leastSquares = false,
): KrylovResult<T> {
  // Under vmap (the operator's params or b batched), one solve per element; `info` sums up the batch.
  // A preconditioner operator may be batched too (e.g. the Jacobi preconditioner of a batched operator).
  const infos: KrylovInfo[] = [];
  const pre0 = "preconditioner" in opts ? opts.preconditioner : undefined;
  const preOp = pre0 instanceof LinearOperator ? pre0 : null;
  const looped = batchLoop(
    name,
    (params, rhs, preParams) => {
      const o = preOp === null ? opts : { ...opts, preconditioner: preOp.withParams(preParams) };
      const r = runKrylov(name, makeKernel, op.withParams(params), rhs as T, o, leastSquares);
      infos.push(r.info);
      return r.value;
    },
    [op.params, b, preOp === null ? null : preOp.params],
  );
  if (looped !== undefined) {
    const info = {
      iterations: Math.max(0, ...infos.map((i) => i.iterations)),
      residualNorm: Math.max(0, ...infos.map((i) => i.residualNorm)),
      converged: infos.every((i) => i.converged),
    };
    return { value: looped as T, info };
  }
  checkConcrete(op, b, name);
  const p = prepare(op, b, opts.x0, name, leastSquares);
  const s = settings(opts, p.A.n, name);
  const pre = "preconditioner" in opts ? opts.preconditioner : undefined;
  const M = pre ? flatPreconditioner(pre, p.inSpace, name) : null;
  const sol = drive(name, makeKernel(p.A.n), p.A, p.b, p.x0, s, M, leastSquares);
  return { value: p.inSpace.tree(sol.x) as T, info: sol.info };
}

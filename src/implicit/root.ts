/**
 * Implicit differentiation of roots and fixed points: `customRoot`, `customFixedPoint`, `rootJvp`, `rootVjp`.
 *
 * The user states optimality as F(x, θ…) = 0 and solves it with any algorithm. By the implicit function
 * theorem, with M = ∂ₓF (or I − ∂ₓT for a fixed point x = T(x, θ)):
 * - forward mode: solve M w = −∂_θF·v (one JVP of F in θ, matrix-free matvecs by JVPs of F in x);
 * - reverse mode: solve Mᵀ u = x̄, then θ̄ = −(∂_θF)ᵀu (one VJP of F in θ; transposed matvecs by VJPs in x).
 * The linear solves go through `linalg.linearSolve`, which is itself differentiable by the same rule, so
 * second and higher derivatives are exact implicit derivatives, never unrolled iterations.
 *
 * @module
 */
import { customCall, type CustomRule } from "../core/custom.js";
import { BatchingError, DifferentiationError, NonFiniteError, TreeMismatchError, ValueError } from "../core/errors.js";
import { Tensor, TraceKind, describeValue, eye, isBatched, zerosLike } from "../core/tensor.js";
import { atBoundary } from "../core/check.js";
import {
  jvp,
  stopGradient,
  vjp,
  type TangentsOf,
  type TensorTree,
  type TensorTrees,
  type TreeLike,
} from "../core/transforms.js";
import { checkChoice, checkFunction, checkOptions } from "../core/options.js";
import {
  flatten,
  flattenLike,
  norm,
  scale,
  sub,
  unflatten,
  describe,
  vdot,
  type Tree,
  type TreeDef,
} from "../core/tree.js";
import { key as randomKey, normal, split as splitKey } from "../core/random.js";
import { fromVector, toVector } from "../linalg/operator.js";
import { LinearOperator, linearSolve, type LinearSolveOptions, type SolveInfo } from "../linalg/index.js";
import { LinearSolveError } from "../linalg/dense/errors.js";
import { choleskySolver, factoredSolve, luSolver, type DirectSolver } from "../linalg/dense/factored.js";
import { concatenate, sliceAxis } from "../core/ops/join.js";
import { reshape, transpose as transposeAxes } from "../core/ops/shape.js";
import { matmul, matrixTranspose } from "../core/ops/matmul.js";
import { ImplicitDiffError, type ImplicitDiagnostics, type ImplicitPolicy } from "./diagnostics.js";
import {
  amortisedDense,
  batchAtTop,
  batchedCgRows,
  columnResiduals,
  labelledLoop,
  perElementDerivative,
  recordKrylov,
  stackedAux,
  type KrylovSpend,
} from "./backward-batch.js";
import { batchLoop, moveBatchAxis, splitBatch, vmap } from "../core/vmap.js";
import { neg } from "../core/ops/elementwise.js";
import { batchTracer, topLevel } from "../core/engine.js";
import { fastBackwardSolve, normOfValues, type BackwardFactor, type WarmStart } from "./backward-solver.js";

/** Options of {@link customRoot}, {@link customFixedPoint}, {@link rootJvp} and {@link rootVjp}. */
export interface ImplicitOptions {
  /**
   * Solver of the backward linear system (see `linalg.linearSolve`). Default `"auto"`: a factorisation handed
   * back by `backwardFactor` when there is one; for `customFixedPoint`, the fixed-point iteration on the adjoint
   * (abandoned for the next choice when it does not contract fast enough); then by the hints below and the size
   * (dense LU/Cholesky when small, CG/MINRES/GMRES otherwise). `"fixedPoint"` forces the fixed-point iteration
   * w ← w + (rhs − M·w) (for a fixed point: u ← (∂ₓT)ᵀu + g), failing when it does not converge.
   */
  solve?: LinearSolveOptions["solver"] | "fixedPoint";
  /**
   * Hands the backward pass a factorisation the solver already has of M (∂ₓF at the solution for a root,
   * I − ∂ₓT for a fixed point), so that no derivative rebuilds M by JVPs. Called once per forward solve, when
   * the first derivative is taken, with the plain solution and arguments (under `vmap`, once per batch element with
   * that element's); undefined: no factorisation, the usual solve. Each solve with it is followed by up to 3 steps of iterative refinement against the true M and must
   * meet `rtol`/`atol`: a wrong factorisation fails (under the policy) instead of giving a wrong derivative.
   * Used for first derivatives; derivatives of derivatives take the differentiable general path.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  backwardFactor?: (x: any, ...args: any[]) => BackwardFactor | undefined;
  /**
   * The backward operator (∂ₓF for a root, I − ∂ₓT for a fixed point) is symmetric (e.g. F = ∇ₓf). Hints are
   * checked once per forward solve, on the entries of the backward matrix when it is materialised (positive
   * definiteness by its Cholesky factorisation), otherwise by two random probes; a wrong one throws
   * `ImplicitDiffError`.
   */
  symmetric?: boolean;
  /** The backward operator is symmetric positive definite (e.g. F = ∇ₓf with f strongly convex). */
  positiveDefinite?: boolean;
  /** The solver returns `[x, aux]`; aux is passed through without derivative. */
  hasAux?: boolean;
  /** Relative tolerance of the backward solve (default 1e-10). */
  rtol?: number;
  /** Absolute tolerance of the backward solve (default 1e-12). */
  atol?: number;
  /** Iteration cap of an iterative backward solve. */
  maxIter?: number;
  /** Restart length for GMRES. */
  restart?: number;
  /**
   * ‖F(x*, θ)‖ above which the solver's output is not considered a root (default 1e-4): the policy decides
   * what happens then.
   */
  residualTol?: number;
  /**
   * On failure (forward residual above `residualTol`, backward solve not converged or singular, non-finite
   * result): `"throw"` (default) an `ImplicitDiffError`; `"warn"` print a warning and return the best result;
   * `"lstsq"` use a least-squares backward solve when the system is singular or does not converge (and
   * throw on the other failures).
   */
  policy?: ImplicitPolicy;
  /** Receives the diagnostics of every implicit derivative computed. */
  onDiagnostics?: (d: ImplicitDiagnostics) => void;
}

/**
 * The optimality function F(x, ...args) of a root problem. Its `any`s are a constraint only, so that unannotated
 * parameters (`customRoot((x, a) => sub(mul(x, x), a))`) are accepted.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OptimalityFn = (x: any, ...args: any[]) => any;

/**
 * A solver: any function of an initial guess and the arguments, run on plain (untraced) values. Its `any`s are a
 * constraint only: the decorated solver keeps the solver's own signature (see {@link ImplicitLayer}).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SolverFn = (init: any, ...args: any[]) => any;

const IMPLICIT_OPTION_KEYS = [
  "solve",
  "symmetric",
  "positiveDefinite",
  "hasAux",
  "rtol",
  "atol",
  "maxIter",
  "restart",
  "residualTol",
  "policy",
  "onDiagnostics",
  "backwardFactor",
] as const satisfies readonly (keyof ImplicitOptions)[];

const POLICIES = ["throw", "warn", "lstsq"] as const satisfies readonly ImplicitPolicy[];

/**
 * @internal Checks implicit-differentiation options when they are given (not when a derivative is first taken):
 * unknown keys, tolerances that are not non-negative numbers, iteration counts that are not positive integers,
 * an unknown policy, flags that are not booleans. Throws a `ValueError` naming `who`.
 */
export function checkImplicitOptions(who: string, opts: ImplicitOptions | undefined, name = "options"): void {
  checkOptions(who, opts, IMPLICIT_OPTION_KEYS, name);
  if (opts === undefined) return;
  for (const key of ["rtol", "atol", "residualTol"] as const) {
    const v = opts[key];
    if (v !== undefined && !(typeof v === "number" && v >= 0)) {
      throw new ValueError(`${who}: ${name}.${key} must be a non-negative number, got ${String(v)}`);
    }
  }
  for (const key of ["maxIter", "restart"] as const) {
    const v = opts[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new ValueError(`${who}: ${name}.${key} must be a positive integer, got ${String(v)}`);
    }
  }
  for (const key of ["symmetric", "positiveDefinite", "hasAux"] as const) {
    const v = opts[key];
    if (v !== undefined && typeof v !== "boolean") {
      throw new ValueError(`${who}: ${name}.${key} must be true or false, got ${String(v)}`);
    }
  }
  checkChoice(opts.policy, POLICIES, who, `${name}.policy`);
  if (opts.solve !== undefined && typeof opts.solve !== "string") {
    throw new ValueError(
      `${who}: ${name}.solve must be a solver name (see linalg.linearSolve), got ${typeof opts.solve}`,
    );
  }
  if (opts.onDiagnostics !== undefined) checkFunction(opts.onDiagnostics, who, `${name}.onDiagnostics`);
  if (opts.backwardFactor !== undefined) checkFunction(opts.backwardFactor, who, `${name}.backwardFactor`);
}

/** The decorated solver: same arguments and result; `init` may be omitted (`undefined`) if the solver allows it. */
export type ImplicitLayer<S extends SolverFn> = S extends (init: infer I, ...args: infer A) => infer R
  ? (init: I | undefined, ...args: A) => R
  : never;

/**
 * @internal F's reverse-mode trace at a plain solution: F(x*, args) and the pullback u ↦ (∂ₓF)ᵀu. Built once per
 * forward solve and shared by everything a first-order reverse derivative needs from ∂ₓF: the check that F does
 * not close over a traced value (its value at plain inputs must be plain), every transposed matvec of an
 * iterative backward solve (each then costs one backward pass over the recorded F, not a fresh evaluation of F
 * and its trace), and the dense matrix (`jacobian`: one pullback batched over the identity).
 *
 * When the arguments hold no more numbers than x (a regularisation weight, a few hyperparameters), F is traced
 * in x and the arguments together, and `pullbackArgs` gives the final θ̄ = (∂θF)ᵀu from the same trace: the
 * argument cotangents each matvec then also computes cost about as much as a second evaluation of F saved. With
 * large arguments (the weights of a deep-equilibrium layer, a QP's matrices) they would dominate every matvec, and
 * the backward pass traces F in the arguments separately.
 *
 * The batched pullback that materialises ∂ₓF computes the rows of ∂θF alongside (the argument cotangents of the
 * basis vectors), at the cost of the few ops that reach the arguments. Once it has run, `pullbackArgs` is the
 * product uᵀ∂θF with those rows instead of one more backward pass over F's trace: for a small system that pass
 * costs as much as a tenth of the whole backward pass (measured on a 10-parameter ridge problem).
 */
export interface XTrace {
  Fx: Tree;
  pullback: (u: Tree) => Tree;
  pullbackArgs?: (u: Tree) => Tree[];
  /**
   * ∂ₓF as an n×n matrix (row j = eⱼᵀ∂ₓF), made once by one pullback batched over the identity; undefined when
   * the pullback cannot be batched (a rule that reads plain numbers), and the caller materialises otherwise.
   */
  jacobian: () => Tensor | undefined;
}

/** The rows of ∂ₓF and, when F is traced in the arguments too, of ∂θF (one per argument leaf, `[n, ...shape]`). */
interface JacobianRows {
  x: Tensor;
  args: Tensor[];
}

function sizeOf(t: Tree): number {
  return flatten(t)[0].reduce((a, l) => a + l.size, 0);
}

function traceInX(F: OptimalityFn, xStar: Tree, args: readonly Tree[]): XTrace {
  const n = sizeOf(xStar);
  const joint = sizeOf(args as Tree[]) <= n;
  const [Fx, pullback] = joint
    ? vjp<Tree>((x: Tree, ...a: Tree[]) => F(x, ...a), xStar, ...args)
    : vjp<Tree>((x: Tree) => F(x, ...args), xStar);
  // undefined: not made yet; null: the pullback does not batch.
  let rows: JacobianRows | null | undefined;
  const jacobianRows = (): JacobianRows | null => {
    if (rows !== undefined) return rows;
    rows = null;
    if (n === 0) return rows;
    try {
      const out = vmap((e: Tensor) => {
        const g = pullback(fromVector(e, xStar));
        return [toVector(g[0]), ...(joint ? flatten(g.slice(1))[0] : [])];
      })(eye(n)) as Tensor[];
      rows = { x: out[0]!, args: out.slice(1) };
    } catch (e) {
      if (!(e instanceof BatchingError)) throw e;
    }
    return rows;
  };
  const trace: XTrace = { Fx, pullback: (u: Tree) => pullback(u)[0], jacobian: () => jacobianRows()?.x };
  if (!joint) return trace;
  const [argLeaves, argDef] = flatten(args as Tree[]);
  trace.pullbackArgs = (u: Tree) => {
    if (!rows) return pullback(u).slice(1);
    // θ̄ = (∂θF)ᵀu, leaf by leaf, from the rows of ∂θF the materialisation made.
    const uv = toVector(u);
    const cts = rows.args.map((R, i) => {
      const leaf = argLeaves[i]!;
      return reshape(matmul(uv, reshape(R, [n, leaf.size])), leaf.shape);
    });
    return unflatten<Tree[]>(argDef, cts);
  };
  return trace;
}

/**
 * M = s·∂ₓF at (x*, args): s = +1 for a root (M = ∂ₓF), s = −1 for a fixed point in residual form
 * F = T − x (M = I − ∂ₓT). The operator's params are (x*, args), so solves with it are differentiable in both.
 * With `trace` (plain x* and args: no derivative will flow through the operator), transposed matvecs are
 * pullbacks of that trace.
 */
function backwardOperator(
  F: OptimalityFn,
  sign: 1 | -1,
  xStar: Tree,
  args: readonly Tree[],
  opts: ImplicitOptions,
  trace?: XTrace,
) {
  const signed = (t: Tree): Tree => (sign === 1 ? t : scale(-1, t));
  const mv = (p: { x: Tree; args: Tree[] }, v: Tree): Tree =>
    signed(jvp<Tree>((x: Tree) => F(x, ...p.args), [p.x], [v])[1]);
  const rmv = trace
    ? (_p: unknown, u: Tree): Tree => signed(trace.pullback(u))
    : (p: { x: Tree; args: Tree[] }, u: Tree): Tree => {
        const [, pullback] = vjp<Tree>((x: Tree) => F(x, ...p.args), p.x);
        return signed(pullback(u)[0]);
      };
  const tags = {
    symmetric: opts.symmetric ?? opts.positiveDefinite ?? false,
    positiveDefinite: opts.positiveDefinite ?? false,
  };
  const params = { x: xStar, args: [...args] };
  if (trace === undefined) {
    return LinearOperator.fromFunction(mv, params, xStar, {
      rmatvec: rmv,
      outExample: xStar,
      tags,
    }) as unknown as LinearOperator;
  }
  // At a plain solution the operator is built directly, with x* as the example of both spaces (fromFunction
  // validates a user's maps and copies traced examples to plain zeros, which costs more than the solve here).
  const spec = { mv, rmv, inExample: xStar, outExample: xStar, tags };
  return new LinearOperator<typeof params>(spec, params) as unknown as LinearOperator;
}

/**
 * The backward system at (x*, args): M, the operator solved, op(M) (Mᵀ for the cotangent system), and how to
 * materialise M. For the cotangent system with a plain trace, op(M) is Mᵀ by its pullbacks even when M is tagged
 * symmetric (a symmetric operator is otherwise its own transpose, with JVP matvecs), and M is the trace's
 * `jacobian` (one batched pullback; it reuses the trace instead of evaluating F again under a batched JVP). Built
 * as one object literal: it is made on every derivative, and the spreads of partial objects it was built from
 * showed in the profile of a small layer's backward pass (a few µs, as much as its 10×10 Cholesky solve).
 */
function backwardSystem(
  F: OptimalityFn,
  sign: 1 | -1,
  xStar: Tree,
  args: readonly Tree[],
  Fx: Tree,
  transpose: boolean,
  opts: ImplicitOptions,
  cache: BackwardCache,
  who: string,
  trace?: XTrace,
): BackwardSystem {
  const op = backwardOperator(F, sign, xStar, args, opts, trace);
  let target = op;
  let materialize = () => op.materialize();
  if (transpose && trace === undefined) target = op.transpose();
  else if (transpose && trace !== undefined) {
    const spec = { mv: op.rmv, rmv: op.mv, inExample: op.outExample, outExample: op.inExample, tags: op.tags };
    const transposed = new LinearOperator(spec, op.params);
    target = transposed;
    materialize = () => {
      const J = trace.jacobian();
      if (J === undefined) return matrixTranspose(transposed.materialize());
      return sign === 1 ? J : neg(J);
    };
  }
  const forwardResidual = residualNorm(Fx);
  return { op, target, materialize, xStar, transpose, forwardResidual, opts, cache, who, sign };
}

function isPlain(trees: readonly Tree[]): boolean {
  return trees.every((t) => flatten(t)[0].every((l) => l.level === 0));
}

/** @internal True when every leaf of `t` is finite. */
export function allFinite(t: Tree): boolean {
  for (const l of flatten(t)[0]) for (let i = 0; i < l.raw.length; i++) if (!Number.isFinite(l.raw[i]!)) return false;
  return true;
}

function checkSquare(Fx: Tree, xStar: Tree, what: string): void {
  const [fl, fd] = flatten(Fx);
  const [xl, xd] = flatten(xStar);
  try {
    flattenLike(Fx, xd, xl, what);
  } catch {
    throw new TreeMismatchError(
      `${what}: F(x, …) must have the structure and shapes of x (a square system); got ${describe(fd)} with shapes ${fl
        .map((l) => `[${l.shape.join(", ")}]`)
        .join(", ")} for x = ${describe(xd)} with shapes ${xl.map((l) => `[${l.shape.join(", ")}]`).join(", ")}`,
    );
  }
}

/** Largest system the `"auto"` choice solves densely (materialised once, factorised once). */
const DENSE_LIMIT = 200;

/**
 * @internal State shared by every derivative computed from one forward solve: the materialised backward matrix and its
 * factorisation, so that `jacrev` (many VJPs) and `jacfwd` (many JVPs) factorise once.
 */
export interface BackwardCache {
  dense?: { A: Tensor; solver: DirectSolver; kind: "lu" | "cholesky" };
  /** The materialised backward matrix (the hint check reads it instead of probing with matvecs). */
  matrix?: Tensor;
  /** The factorisation handed back by `backwardFactor` (null: asked, none). */
  factor?: BackwardFactor | null;
  /** Warm starts of the fixed-point iteration, shared by the layer's successive solves. */
  warm?: WarmStart;
  /** The `symmetric` / `positiveDefinite` hints were probed at this solution (see {@link checkHints}). */
  hintsChecked?: boolean;
  /** Krylov backward solves so far: above DENSE_LIMIT, they decide when materialising pays (see backward-batch). */
  krylov?: KrylovSpend;
  /** Under `vmap`, the caches of the batch elements when their operators differ (see `perElementDerivative`). */
  elements?: BackwardCache[];
  /** F's trace in x at this (plain) solution, made by the forward solve when a reverse derivative follows. */
  trace?: XTrace;
}

/** Relative tolerance of the symmetry checks: far above rounding in two matvecs, far below a real asymmetry. */
const SYMMETRY_RTOL = 1e-8;

/**
 * The hints pick the backward solver and let it skip transposes (CG, MINRES and Cholesky all read M as Mᵀ),
 * so a wrong hint would give a silently wrong derivative. They are checked once per forward solve:
 * - when M is materialised, symmetry on its entries, ‖M − Mᵀ‖_F ≤ SYMMETRY_RTOL·‖M‖_F (exact, and free next to
 *   the matvecs that built M); positive definiteness is then proved by the Cholesky factorisation the dense solve
 *   makes (`cholesky`), and only if that fails are the probes below run, to tell a wrong hint (an ImplicitDiffError)
 *   from a singular system (a LinearSolveError, under the policy);
 * - otherwise by two seeded random probes ({@link probeHints}).
 */
function checkHints(
  op: LinearOperator,
  xStar: Tree,
  opts: ImplicitOptions,
  cache: BackwardCache,
  who: string,
  cholesky: boolean,
) {
  if (cache.hintsChecked || !(opts.symmetric || opts.positiveDefinite)) return;
  const A = cache.matrix;
  if (A !== undefined && (cholesky || !opts.positiveDefinite)) checkSymmetricEntries(stopGradient(A).raw, opts, who);
  else probeHints(op, xStar, opts, cache, who);
  cache.hintsChecked = true;
}

function hintName(opts: ImplicitOptions) {
  return opts.positiveDefinite ? "positiveDefinite" : "symmetric";
}

function checkSymmetricEntries(a: Float64Array, opts: ImplicitOptions, who: string) {
  const n = Math.round(Math.sqrt(a.length));
  let diff = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = a[i * n + j]!;
      total += v * v;
      if (j > i) diff += 2 * (v - a[j * n + i]!) ** 2;
    }
  }
  if (!(Math.sqrt(diff) <= SYMMETRY_RTOL * Math.sqrt(total))) {
    throw new ImplicitDiffError(
      `${who}: the \`${hintName(opts)}\` hint is wrong: the backward matrix is not symmetric (‖M − Mᵀ‖ = ${Math.sqrt(diff).toExponential(3)} for ‖M‖ = ${Math.sqrt(total).toExponential(3)}). Drop the hint; the derivative would be wrong with it.`,
      {},
    );
  }
}

/**
 * Two seeded random probes u, v check ⟨u, Mv⟩ = ⟨Mu, v⟩ (symmetry) and ⟨v, Mv⟩ > 0, ⟨u, Mu⟩ > 0 (a necessary
 * condition for positive definiteness), at the cost of two matvecs (products with M when it is materialised).
 * Both are invariant under transposition, so `op` may be M or Mᵀ.
 */
function probeHints(op: LinearOperator, xStar: Tree, opts: ImplicitOptions, cache: BackwardCache, who: string) {
  const [leaves, def] = flatten(xStar);
  const keys = splitKey(randomKey(0x5e11), 2 * leaves.length);
  const probe = (k: number) =>
    unflatten(
      def,
      leaves.map((l, i) => normal(keys[k * leaves.length + i]!, l.shape)),
    );
  const u = probe(0);
  const v = probe(1);
  const A = cache.matrix;
  const apply = (t: Tree): Tree => (A ? fromVector(matmul(A, toVector(t)), t) : (op.matvec(t) as Tree));
  const Mu = apply(u);
  const Mv = apply(v);
  const value = (t: Tensor) => stopGradient(t).item();
  const uMv = value(vdot(u, Mv));
  const vMu = value(vdot(v, Mu));
  const scaleOf = value(norm(u)) * value(norm(Mv)) + value(norm(v)) * value(norm(Mu));
  if (!(Math.abs(uMv - vMu) <= SYMMETRY_RTOL * scaleOf)) {
    throw new ImplicitDiffError(
      `${who}: the \`${hintName(opts)}\` hint is wrong: the backward operator is not symmetric (⟨u, Mv⟩ = ${uMv.toExponential(6)} but ⟨Mu, v⟩ = ${vMu.toExponential(6)} for random u, v). Drop the hint; the derivative would be wrong with it.`,
      {},
    );
  }
  if (opts.positiveDefinite) {
    const uMu = value(vdot(u, Mu));
    const vMv = value(vdot(v, Mv));
    if (!(uMu > 0 && vMv > 0)) {
      throw new ImplicitDiffError(
        `${who}: the \`positiveDefinite\` hint is wrong: ⟨v, Mv⟩ = ${Math.min(uMu, vMv).toExponential(3)} ≤ 0 for a random v. Use \`symmetric\` (MINRES) or no hint.`,
        {},
      );
    }
  }
}

function denseKind(opts: ImplicitOptions, n: number, cache: BackwardCache, columns = 1): "lu" | "cholesky" | null {
  const solve = opts.solve ?? "auto";
  if (solve === "lu" || solve === "cholesky") return solve;
  if (
    solve === "auto" &&
    (n <= DENSE_LIMIT || cache.dense !== undefined || amortisedDense(solve, n, cache.krylov, columns))
  ) {
    return opts.positiveDefinite ? "cholesky" : "lu";
  }
  return null;
}

/**
 * Dense solve of op(M)·X = B for the n×k `b` with the cached factorisation of the materialised operator, and the
 * residual norm of every column (its certificate).
 */
function denseColumns(
  materialize: () => Tensor,
  b: Tensor,
  transpose: boolean,
  kind: "lu" | "cholesky",
  cache: BackwardCache,
  who: string,
): { x: Tensor; residuals: number[] } {
  if (cache.dense === undefined) {
    const A = (cache.matrix ??= materialize());
    const n = A.shape[0]!;
    const solver = kind === "cholesky" ? choleskySolver(A.raw, n, who) : luSolver(A.raw, n);
    cache.dense = { A, solver, kind };
  }
  const { A, solver } = cache.dense;
  const x = factoredSolve(solver, A, b, transpose, who);
  return { x, residuals: columnResiduals(A, x, b, transpose) };
}

/** Dense solve of one right-hand side (a pytree shaped like x) with the cached factorisation. */
function denseSolve(
  materialize: () => Tensor,
  rhs: Tree,
  transpose: boolean,
  kind: "lu" | "cholesky",
  cache: BackwardCache,
  who: string,
) {
  const b = toVector(rhs);
  const { x, residuals } = denseColumns(materialize, reshape(b, [b.size, 1]), transpose, kind, cache, who);
  const info: Omit<SolveInfo, "phase"> = {
    solver: cache.dense!.kind,
    iterations: 1,
    residualNorm: residuals[0]!,
    converged: true,
  };
  return { value: fromVector(reshape(x, [b.size]), rhs), info };
}

/**
 * One backward system of a layer at its solution x*: M w = rhs (tangents, jvp) or Mᵀ w = rhs (cotangents, vjp),
 * with what certifying its solutions needs. Shared by the single, multi-row and batched solves below.
 */
interface BackwardSystem {
  /** M. */
  op: LinearOperator;
  /** op(M), the operator solved: Mᵀ for the cotangent system (see {@link solvedOperator}). */
  target: LinearOperator;
  /** M as a dense matrix. */
  materialize: () => Tensor;
  xStar: Tree;
  /** True for Mᵀ (the cotangent system). */
  transpose: boolean;
  /** ‖F(x*, θ)‖, checked against `residualTol` before any solve. */
  forwardResidual: number;
  opts: ImplicitOptions;
  cache: BackwardCache;
  who: string;
  /** +1 for a root (M = ∂ₓF), −1 for a fixed point (M = I − ∂ₓT). */
  sign: 1 | -1;
}

/** Solves the backward system for one right-hand side under the policy, reporting diagnostics. */
function certifiedSolve(sys: BackwardSystem, rhs: Tree, column?: number): Tree {
  const { op, target, materialize, xStar, transpose, forwardResidual, opts, cache, who, sign } = sys;
  const where = column === undefined ? who : `${who} (batch element ${column})`;
  const mode = transpose ? "vjp" : "jvp";
  const policy = opts.policy ?? "throw";
  const residualTol = opts.residualTol ?? 1e-4;
  if (!(forwardResidual <= residualTol)) {
    const msg = `${where}: the solver's output is not a root: ‖F(x*, θ)‖ = ${forwardResidual.toExponential(3)} > residualTol ${residualTol} (solve more tightly, or raise residualTol)`;
    if (policy === "warn") console.warn(`diffopt warning: ${msg}`);
    else throw new ImplicitDiffError(msg, { mode, forwardResidual });
  }
  const base: LinearSolveOptions = {
    solver: opts.solve === "fixedPoint" ? "auto" : (opts.solve ?? "auto"),
    rtol: opts.rtol ?? 1e-10,
    atol: opts.atol ?? 1e-12,
  };
  if (opts.maxIter !== undefined) base.maxIter = opts.maxIter;
  if (opts.restart !== undefined) base.restart = opts.restart;
  const kind = denseKind(opts, sizeOf(rhs), cache);
  let result: { value: Tree; info: Omit<SolveInfo, "phase"> };
  let fallback = false;
  let skipped: Omit<SolveInfo, "phase"> | undefined;
  try {
    const fast = fastBackwardSolve({
      target,
      rhs,
      transpose,
      sign,
      solve: opts.solve ?? "auto",
      rtol: base.rtol!,
      atol: base.atol!,
      maxIter: opts.maxIter,
      factor: cache.factor,
      warm: cache.warm,
      who,
      traced: !isPlain([rhs, op.params as Tree]),
    });
    if (fast !== null && "value" in fast) result = fast;
    else {
      skipped = fast?.skipped;
      if (kind !== null && (opts.symmetric || opts.positiveDefinite)) cache.matrix ??= materialize();
      checkHints(target, xStar, opts, cache, who, kind === "cholesky");
      result =
        kind !== null
          ? denseSolve(materialize, rhs, transpose, kind, cache, who)
          : linearSolve(target, rhs, { ...base, throwOnFailure: true });
      if (kind === null) cache.krylov = recordKrylov(cache.krylov, result.info);
    }
  } catch (e) {
    if (!(e instanceof LinearSolveError)) throw e;
    // A failed Cholesky factorisation: a wrong positiveDefinite hint throws as such (see checkHints).
    if (kind === "cholesky" && cache.dense === undefined && opts.positiveDefinite) {
      probeHints(target, xStar, opts, cache, who);
    }
    if (policy === "lstsq") {
      result = linearSolve(target, rhs, { ...base, solver: "auto", wellPosed: false, throwOnFailure: false });
      fallback = true;
    } else if (policy === "warn") {
      // An iterative solve returns its last iterate; a singular dense one has none, so least squares stands in.
      console.warn(
        `diffopt warning: ${where}: backward solve failed (${e.message}); returning the best available result`,
      );
      const fallbackOpts =
        kind === null
          ? { ...base, throwOnFailure: false }
          : { ...base, solver: "auto" as const, wellPosed: false, throwOnFailure: false };
      result = linearSolve(target, rhs, fallbackOpts);
      fallback = kind !== null;
    } else {
      throw new ImplicitDiffError(
        `${where}: the backward linear system (${mode}) could not be solved: ${e.message}. Try policy "lstsq" for a singular system, or another \`solve\`.`,
        { mode, forwardResidual },
      );
    }
  }
  return certify(sys, result.value, result.info, fallback, where, column, skipped);
}

/** Reports the diagnostics of one solved column and checks that its solution is finite. */
function certify<T extends Tree>(
  { transpose, forwardResidual, opts }: BackwardSystem,
  value: T,
  info: Omit<SolveInfo, "phase">,
  fallback: boolean,
  who: string,
  column: number | undefined,
  skipped?: Omit<SolveInfo, "phase">,
): T {
  const mode = transpose ? "vjp" : "jvp";
  // The solve is the tangent (jvp) or cotangent (vjp) system of the root, whichever linalg path ran it.
  const phase = transpose ? "cotangent" : "tangent";
  const { solver, iterations, converged } = info;
  const linearSolve: SolveInfo = { solver, iterations, residualNorm: info.residualNorm, converged, phase };
  let diagnostics: ImplicitDiagnostics = { mode, forwardResidual, linearSolve, fallback };
  if (column !== undefined || skipped) {
    diagnostics = {
      ...diagnostics,
      ...(column !== undefined ? { column } : {}),
      ...(skipped ? { skipped: { ...skipped, phase } } : {}),
    };
  }
  opts.onDiagnostics?.(diagnostics);
  if (!allFinite(value)) {
    throw new ImplicitDiffError(`${who}: the implicit derivative (${mode}) is not finite`, diagnostics);
  }
  return value;
}

/**
 * The backward system for k right-hand sides at once: the rows of the k×n `rhs` (each a flattened pytree shaped
 * like x), as one multi-right-hand-side solve. The first row goes through {@link certifiedSolve} (which checks
 * the forward residual and the hints and, above the dense threshold, measures one Krylov solve); the others are
 * solved together with one factorisation when the dense path is chosen or pays for k − 1 more columns (see
 * `backward-batch.ts`), one certified solve per row otherwise. Every row is certified and reported (with its
 * index as `column`) as a single solve is. Returns the k×n solutions.
 */
function certifiedSolveRows(sys: BackwardSystem, rhs: Tensor): Tensor {
  const { op, materialize, xStar, transpose, opts, cache, who } = sys;
  const [k, n] = rhs.shape as [number, number];
  const row = (j: number) => fromVector(reshape(sliceAxis(rhs, 0, j, j + 1), [n]), xStar);
  const solveRow = (j: number) => toVector(certifiedSolve(sys, row(j), k > 1 ? j : undefined));
  if (k === 0) return rhs;
  const first = reshape(solveRow(0), [1, n]);
  const kind = denseKind(opts, n, cache, k - 1);
  const oneByOne = () => Array.from({ length: k - 1 }, (_, j) => reshape(solveRow(j + 1), [1, n]));
  if (k === 1) return first;
  // A factorisation handed back by the solver (backwardFactor) serves every row: triangular solves, each certified.
  if (cache.factor) return concatenate([first, ...oneByOne()]);
  if (kind === null) {
    const cg = batchedCgRows(op, xStar, sliceAxis(rhs, 0, 1, k), opts);
    if (cg === null) return concatenate([first, ...oneByOne()]);
    const rows = cg.converged.map((ok, j) => {
      if (!ok) return reshape(solveRow(j + 1), [1, n]); // this row alone, under the policy
      const value = new Tensor(cg.x.slice(j * n, (j + 1) * n), [1, n]);
      const info = { solver: "cg", iterations: cg.iterations[j]!, residualNorm: cg.residuals[j]!, converged: true };
      cache.krylov = recordKrylov(cache.krylov, info);
      const where = `${who} (batch element ${j + 1})`;
      return certify(sys, value, info, false, where, j + 1);
    });
    return concatenate([first, ...rows]);
  }
  let block: { x: Tensor; residuals: number[] };
  try {
    // Shares the factorisation the first row used (or makes it now, when Krylov solves stop paying).
    block = denseColumns(materialize, transposeAxes(sliceAxis(rhs, 0, 1, k)), transpose, kind, cache, who);
  } catch (e) {
    // A singular materialised matrix: each row then meets the policy on its own.
    if (e instanceof LinearSolveError) return concatenate([first, ...oneByOne()]);
    throw e;
  }
  const solved = transposeAxes(block.x);
  block.residuals.forEach((r, j) => {
    const info = { solver: kind, iterations: 1, residualNorm: r, converged: true };
    const where = `${who} (batch element ${j + 1})`;
    certify(sys, sliceAxis(solved, 0, j, j + 1), info, false, where, j + 1);
  });
  return concatenate([first, solved]);
}

/**
 * The backward solve for `rhs`, or, when `rhs` is batched by `vmap` (as `jacrev` and `jacfwd` batch the rows or
 * columns of a Jacobian) while the operator is not, for all its elements at once by one multi-right-hand-side solve
 * ({@link certifiedSolveRows}).
 */
function solveAll(sys: BackwardSystem, rhs: Tree): Tree {
  const [leaves, def] = flatten(rhs);
  const top = batchAtTop(leaves);
  if (top === null) return certifiedSolve(sys, rhs);
  const { vals, dims, size } = splitBatch(leaves, top.level);
  if (vals.some(isBatched)) {
    // Batched at several vmap levels: one level at a time.
    return batchLoop(sys.who, (r) => solveAll(sys, r), [rhs])!;
  }
  const rows = concatenate(
    vals.map((v, i) => reshape(moveBatchAxis(v, dims[i] ?? null, 0, size), [size, leaves[i]!.size])),
    1,
  );
  const solved = certifiedSolveRows(sys, rows);
  let offset = 0;
  return unflatten(
    def,
    leaves.map((l) => {
      const block = sliceAxis(solved, 1, offset, (offset += l.size));
      return batchTracer(top.level, reshape(block, [size, ...l.shape]), 0);
    }),
  );
}

function residualNorm(Fx: Tree): number {
  return isPlain([Fx]) ? normOfValues(Fx) : stopGradient(norm(Fx)).item();
}

function rootJvpSigned(
  F: OptimalityFn,
  sign: 1 | -1,
  xStar: Tree,
  args: readonly Tree[],
  tangents: readonly Tree[],
  opts: ImplicitOptions,
  who: string,
  cache: BackwardCache = {},
): Tree {
  const looped = perElementDerivative(who, [xStar, ...args], [...tangents], xStar, cache, (where, c, x, ...r) =>
    rootJvpSigned(F, sign, x, r.slice(0, args.length), r.slice(args.length), opts, where, c),
  );
  if (looped !== undefined) return looped;
  askFactor(opts, cache, xStar, args);
  const [Fx, Bv] = jvp<Tree>((...a: Tree[]) => F(xStar, ...a), [...args], [...tangents]);
  checkSquare(Fx, xStar, who);
  // M w = -s·∂θF v
  const rhs = sign === 1 ? scale(-1, Bv) : Bv;
  return solveAll(backwardSystem(F, sign, xStar, args, Fx, false, opts, cache, who), rhs);
}

function rootVjpSigned(
  F: OptimalityFn,
  sign: 1 | -1,
  xStar: Tree,
  args: readonly Tree[],
  cotangent: Tree,
  opts: ImplicitOptions,
  who: string,
  cache: BackwardCache = {},
): Tree[] {
  const looped = perElementDerivative(who, [xStar, ...args], [cotangent], [...args], cache, (where, c, x, ...r) =>
    rootVjpSigned(F, sign, x, r.slice(0, args.length), r[args.length], opts, where, c),
  );
  if (looped !== undefined) return looped;
  askFactor(opts, cache, xStar, args);
  // At first order (plain x* and args) the transposed matvecs and the dense matrix come from one trace of F in x.
  const trace = isPlain([xStar, ...args]) ? (cache.trace ??= traceInX(F, xStar, args)) : undefined;
  const [Fx, pullback] = trace?.pullbackArgs
    ? [trace.Fx, trace.pullbackArgs]
    : vjp<Tree>((...a: Tree[]) => F(xStar, ...a), ...args);
  checkSquare(Fx, xStar, who);
  const u = solveAll(backwardSystem(F, sign, xStar, args, Fx, true, opts, cache, who, trace), cotangent);
  // θ̄ = −s·(∂θF)ᵀ u
  return pullback(sign === 1 ? scale(-1, u) : u);
}

/**
 * The JVP of a root x*(θ) of F(x, ...args) = 0 along `tangents` of `args`, by the implicit function theorem:
 * solves ∂ₓF · w = −∂_argsF · tangents. `xStar` must be a root at `args`.
 *
 * @example
 * ```ts
 * import { rootJvp, sub, mul, tensor, type Tensor } from "diffopt";
 * // x² = a  ⇒  dx/da = 1 / (2x)
 * const F = (x: Tensor, a: Tensor) => sub(mul(x, x), a);
 * rootJvp(F, tensor(2), [tensor(4)], [tensor(1)]).item(); // 0.25
 * ```
 */
export function rootJvp<X, const A extends readonly unknown[]>(
  F: (x: X, ...args: A) => unknown,
  xStar: X,
  args: A,
  tangents: TangentsOf<A>,
  opts: ImplicitOptions = {},
): TensorTree<X> {
  return atBoundary("rootJvp", () => {
    checkFunction(F, "rootJvp", "F");
    checkImplicitOptions("rootJvp", opts);
    checkRootArgs(args as readonly Tree[], "rootJvp");
    if (!Array.isArray(tangents)) {
      throw new ValueError(
        `rootJvp: tangents must be an array (one entry per argument), got ${describeValue(tangents)}`,
      );
    }
    const [argLeaves, argDef] = flatten(args as Tree);
    flattenLike(tangents as Tree, argDef, argLeaves, "tangents vs args");
    const w = rootJvpSigned(F, 1, xStar as Tree, args as readonly Tree[], tangents as readonly Tree[], opts, "rootJvp");
    return w as TensorTree<X>;
  });
}

/** The check shared by {@link rootJvp} and {@link rootVjp} on their arguments. */
function checkRootArgs(args: readonly Tree[], who: string): void {
  if (!Array.isArray(args)) {
    throw new ValueError(`${who}: args must be an array (the arguments of F after x), got ${describeValue(args)}`);
  }
}

/**
 * The VJP of a root x*(θ) of F(x, ...args) = 0: cotangents of every argument (a list) for a cotangent of x*,
 * by the implicit function theorem: solves (∂ₓF)ᵀ u = x̄, returns −(∂_argsF)ᵀ u.
 *
 * @example
 * ```ts
 * import { rootVjp, sub, mul, tensor, type Tensor } from "diffopt";
 * const F = (x: Tensor, a: Tensor) => sub(mul(x, x), a);
 * rootVjp(F, tensor(2), [tensor(4)], tensor(1))[0].item(); // 0.25
 * ```
 */
export function rootVjp<X, const A extends readonly unknown[]>(
  F: (x: X, ...args: A) => unknown,
  xStar: X,
  args: A,
  cotangent: TreeLike<X>,
  opts: ImplicitOptions = {},
): TensorTrees<A> {
  return atBoundary("rootVjp", () => {
    checkFunction(F, "rootVjp", "F");
    checkImplicitOptions("rootVjp", opts);
    checkRootArgs(args as readonly Tree[], "rootVjp");
    const [xLeaves, xDef] = flatten(xStar as Tree);
    flattenLike(cotangent as Tree, xDef, xLeaves, "cotangent vs xStar");
    const g = rootVjpSigned(F, 1, xStar as Tree, args as readonly Tree[], cotangent as Tree, opts, "rootVjp");
    return g as TensorTrees<A>;
  });
}

/**
 * True when the custom call on `args` will record a reverse-mode node whose rule gets plain values: the arguments
 * are plain or traced by one reverse-mode transform over plain values (first-order `grad`, `vjp`, `jacrev`).
 */
function firstOrderReverse(args: readonly Tensor[]): boolean {
  const level = topLevel(args);
  return (
    level > 0 &&
    args.every((a) => a.level === 0 || (a.level === level && a.kind === TraceKind.Vjp && a.primal!.level === 0))
  );
}

function sameRefs(a: readonly Tensor[], b: readonly Tensor[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** One forward solve: the solution's leaves, aux, and the backward cache its derivatives share. */
interface SolveRecord {
  args: Tensor[];
  init: Tensor[];
  outs: Tensor[];
  xDef: TreeDef;
  aux: Tree;
  cache: BackwardCache;
}

/**
 * Asks `backwardFactor` once per forward solve (per batch element under `vmap`) for a factorisation of M at the
 * (plain) solution.
 */
function askFactor(opts: ImplicitOptions, cache: BackwardCache, xStar: Tree, args: readonly Tree[]): void {
  if (opts.backwardFactor === undefined || cache.factor !== undefined) return;
  cache.factor = opts.backwardFactor(stopGradient(xStar), ...args.map((a) => stopGradient(a))) ?? null;
}

/**
 * The implicit layer of `customRoot` (sign 1) and `customFixedPoint` (sign −1). With `finiteSolution`, a solver
 * that returns NaN or ±Infinity is an error (a non-finite x* is no root, and would flow on silently); the
 * library's own solvers turn it off, since they report a diverged run in their state's status instead.
 */
function implicitLayer(F: OptimalityFn, sign: 1 | -1, opts: ImplicitOptions, who: string, finiteSolution = true) {
  checkImplicitOptions(who, opts);
  return <S extends SolverFn>(solver: S): ImplicitLayer<S> => {
    checkFunction(solver, who, "solver");
    // The last forward solve, reused when the layer is called again on the very same (immutable) tensors, as
    // jacfwd does once per column: the solver then runs once and the backward matrix is factorised once.
    let last: SolveRecord | null = null;
    const warm: WarmStart = {};
    // `where` names the call in errors: `who`, and the batch element when it runs per element under vmap.
    const call = (where: string, init: Tree, args: Tree[]): Tree => {
      // Under vmap the solver runs once per element on that element's values (an opaque solver is a loop).
      const looped = labelledLoop(where, (w, _element, i, ...a) => call(w, i, a), [init, ...args]);
      if (looped !== undefined) return looped;
      const [argLeaves, argDef] = flatten(args);
      // init goes through the custom call as well (without derivative), so that under vmap each element's solve
      // gets its own initial guess.
      const [initLeaves, initDef] = flatten(stopGradient(init));
      const nInit = initLeaves.length;
      let record: SolveRecord | null = null;
      // Every solve of this call: one, or one per batch element when the call runs per element under vmap.
      const made: SolveRecord[] = [];
      const solve = (concrete: readonly Tensor[]): SolveRecord => {
        const cinit = concrete.slice(0, nInit);
        const cargsLeaves = concrete.slice(nInit);
        if (last === null || !sameRefs(last.args, cargsLeaves) || !sameRefs(last.init, cinit)) {
          const cargs = unflatten<Tree[]>(argDef, cargsLeaves);
          let x = solver(unflatten(initDef, cinit), ...cargs) as Tree;
          let aux: Tree = undefined;
          if (opts.hasAux) {
            if (!Array.isArray(x) || x.length !== 2) {
              throw new ValueError(`${where}: with hasAux the solver must return a pair [x, aux]`);
            }
            aux = stopGradient(x[1] as Tree);
            x = x[0] as Tree;
          }
          const [xl, xDef] = flatten(x);
          if (xl.some((l) => l.level > 0)) {
            throw new DifferentiationError(
              `${where}: the solver returned a traced value: it closes over a value that is being differentiated. Pass every such value as an argument of the decorated function, after init.`,
            );
          }
          if (finiteSolution && !allFinite(x)) {
            throw new NonFiniteError(
              `${where}: the solver returned a non-finite solution (NaN or ±Infinity in x*), which is no root of the optimality condition; check the solver's convergence and its inputs`,
            );
          }
          // F at the plain solution must be plain. When a first-order reverse derivative follows, F is evaluated
          // once, traced in x, and the trace is kept for the backward pass.
          const trace = reverseNext ? traceInX(F, x, cargs) : undefined;
          if (flatten(trace ? trace.Fx : F(x, ...cargs))[0].some((l) => l.level > 0)) {
            throw new DifferentiationError(
              `${where}: the optimality function closes over a value that is being differentiated, whose derivative would be lost. Pass it as an argument of the decorated function (F(x, ...args) receives the same args).`,
            );
          }
          last = { args: cargsLeaves, init: cinit, outs: xl, xDef, aux, cache: { warm, ...(trace ? { trace } : {}) } };
        }
        made.push(last);
        return last;
      };
      const argsOf = (leaves: readonly Tensor[]) => unflatten<Tree[]>(argDef, leaves.slice(nInit));
      const rule: CustomRule<BackwardCache> = {
        name: where,
        primal(concrete) {
          record = solve(concrete);
          return { outs: record.outs, res: record.cache };
        },
        residuals() {
          // Arguments traced below the handled level: the backward matrix depends on them, so no reuse.
          return {};
        },
        jvp(primals, tangents, outs, cache) {
          const a = argsOf(primals);
          const t = argsOf(tangents.map((tt, i) => tt ?? zerosLike(primals[i]!)));
          const w = rootJvpSigned(F, sign, unflatten(record!.xDef, outs), a, t, opts, where, cache);
          return flatten(w)[0];
        },
        vjp(primals, outs, cts, cache) {
          const ct = unflatten(
            record!.xDef,
            cts.map((c, i) => c ?? zerosLike(outs[i]!)),
          );
          const a = argsOf(primals);
          const g = rootVjpSigned(F, sign, unflatten(record!.xDef, outs), a, ct, opts, where, cache);
          return [...initLeaves.map(() => null), ...flatten(g)[0]];
        },
      };
      const callArgs = [...initLeaves, ...argLeaves];
      const reverseNext = firstOrderReverse(callArgs);
      const outs: Tensor[] = customCall(rule, callArgs);
      const x = unflatten(record!.xDef, outs);
      if (!opts.hasAux) return x;
      return [
        x,
        made.length === 1
          ? made[0]!.aux
          : stackedAux(
              made.map((r) => r.aux),
              callArgs,
              where,
            ),
      ];
    };
    const decorated = (init: Tree, ...args: Tree[]): Tree => call(who, init, args);
    return decorated as unknown as ImplicitLayer<S>;
  };
}

/**
 * Makes any solver differentiable by implicit differentiation of its optimality condition F(x, ...args) = 0.
 *
 * `customRoot(F, opts)(solver)` returns a function with the solver's signature `(init, ...args)`. The solver
 * runs on plain values (it is never traced, and may be any algorithm); its output x* is differentiable with
 * respect to every `args` entry (pytrees) in forward and reverse mode and any nesting of them; `init` gets no
 * derivative. F must take the same arguments as the solver (after x / init) and return a pytree shaped like x.
 * A solver output with NaN or ±Infinity is a `NonFiniteError` (no root is non-finite).
 *
 * Full Jacobians are cheap: the layer remembers its last forward solve, so `jacfwd` and `jacrev` (one JVP or VJP
 * per column or row) run the solver once and factorise a dense backward matrix once. The memo is keyed by the
 * identity of the (immutable) argument and `init` tensors: pass the same `init` object, not a fresh copy, on
 * each call if you rely on it.
 *
 * @example
 * ```ts
 * import { customRoot, grad, jvp, sub, mul, tensor } from "diffopt";
 * // x*(a) = √a as the root of x² − a, found by Newton's method on plain numbers
 * const sqrtOf = customRoot((x, a) => sub(mul(x, x), a))((init, a) => {
 *   let x = init.item();
 *   for (let i = 0; i < 50; i++) x = 0.5 * (x + a.item() / x);
 *   return tensor(x);
 * });
 * grad((a) => sqrtOf(tensor(1), a))(tensor(4)).item();           // 0.25
 * jvp((a) => sqrtOf(tensor(1), a), [tensor(4)], [tensor(1)])[1]; // tensor(0.25)
 * ```
 */
export function customRoot(
  F: OptimalityFn,
  opts: ImplicitOptions = {},
): <S extends SolverFn>(solver: S) => ImplicitLayer<S> {
  checkFunction(F, "customRoot", "F");
  return implicitLayer(F, 1, opts, "customRoot");
}

/**
 * @internal `customRoot` for the library's own solvers: a non-finite solution passes through, because their
 * state reports it (status "diverged" with `throwOnDiverge: false`, a QP's failure status).
 */
export function solverRoot(
  F: OptimalityFn,
  opts: ImplicitOptions,
  who: string,
): <S extends SolverFn>(solver: S) => ImplicitLayer<S> {
  return implicitLayer(F, 1, opts, who, false);
}

/**
 * Makes any fixed-point solver differentiable: x* = T(x*, ...args). Equivalent to `customRoot` with
 * F = T(x, …) − x; the backward operator is I − ∂ₓT (pass `positiveDefinite` when T is a gradient step on a
 * convex function).
 *
 * @example
 * ```ts
 * import { customFixedPoint, grad, add, cos, tensor, type Tensor } from "diffopt";
 * // x = cos(x) + θ
 * const T = (x: Tensor, theta: Tensor) => add(cos(x), theta);
 * const solve = customFixedPoint(T)((x0: Tensor, theta: Tensor) => {
 *   let x = x0;
 *   for (let i = 0; i < 200; i++) x = T(x, theta);
 *   return x;
 * });
 * grad((theta) => solve(tensor(0), theta))(tensor(0.5)).item(); // 1 / (1 + sin(x*))
 * ```
 */
export function customFixedPoint(
  T: OptimalityFn,
  opts: ImplicitOptions = {},
): <S extends SolverFn>(solver: S) => ImplicitLayer<S> {
  checkFunction(T, "customFixedPoint", "T");
  const F = (x: Tree, ...args: Tree[]) => sub(T(x, ...args), x);
  return implicitLayer(F, -1, opts, "customFixedPoint");
}

/**
 * Many backward solves with one operator: when the dense factorisation pays, and the multi-right-hand-side solve.
 *
 * A full Jacobian of an implicit layer (`jacrev` over its n outputs, `jacfwd` over its inputs, or a loop of
 * pullbacks) solves the backward system Mᵀu = v (or M w = v) once per column, all with the same M. Above the
 * dense threshold each solve is a Krylov solve costing some number of matvecs; materialising M costs n matvecs
 * once, after which every column is two triangular solves with a factorisation made once. Which is cheaper
 * depends on the number of columns and on the Krylov iteration count, neither known in advance when columns
 * arrive one pullback at a time. The rule here is the classic rent-or-buy one: keep paying Krylov solves until
 * the matvecs spent on them reach the cost of materialising, then materialise. Whatever the number of columns,
 * the total is then at most about twice the cheaper of the two strategies, and a single gradient never pays for
 * a materialisation it does not need. When the columns arrive together (under `vmap`), their number is known and
 * the choice is made up front from the iteration count measured on the first column.
 *
 * Every column keeps the guarantees of a single backward solve: the dense path measures each column's residual,
 * and the policy (`throw` / `warn` / `lstsq`) applies per column.
 *
 * @module
 */
import type { SolveInfo } from "../linalg/index.js";
import { batchTracer, topLevel } from "../core/engine.js";
import { Tensor, TraceKind, isBatched } from "../core/tensor.js";
import { BatchingError } from "../core/errors.js";
import { stopGradient } from "../core/transforms.js";
import { batchLoop, vmap } from "../core/vmap.js";
import { matmul } from "../core/ops/matmul.js";
import { sub } from "../core/ops/elementwise.js";
import { flatten, unflatten, type Tree, type TreeDef } from "../core/tree.js";
import { valueBatchLevel, batchSizeAt, elementsBeneath, stackBeneath } from "./split-beneath.js";
import { sliceAxis, stack } from "../core/ops/join.js";
import { fromVector, toVector } from "../linalg/operator.js";
import type { LinearOperator } from "../linalg/index.js";
import type { BackwardCache, ImplicitOptions } from "./root.js";

/**
 * Largest backward system materialised when amortised over many columns (n² doubles: 32 MB at 2000). Larger
 * systems always use Krylov solves: the memory, and the O(n³) factorisation, would dominate.
 */
export const AMORTISED_DENSE_LIMIT = 2000;

/** @internal What the derivatives of one forward solve spent on Krylov backward solves. */
export interface KrylovSpend {
  /** Matvecs (iterations) spent by Krylov backward solves so far. */
  matvecs: number;
  /** Number of Krylov backward solves so far. */
  solves: number;
}

/**
 * @internal True when the backward system of size `n`, about to receive `columns` more right-hand sides, should
 * be materialised and factorised rather than solved by Krylov iterations, given what earlier solves spent
 * (`spent`, undefined before the first). Only for the `"auto"` solver choice (an explicit solver is obeyed).
 */
export function amortisedDense(solve: string, n: number, spent: KrylovSpend | undefined, columns = 1): boolean {
  if (solve !== "auto" || n > AMORTISED_DENSE_LIMIT || spent === undefined || spent.solves === 0) return false;
  const perSolve = spent.matvecs / spent.solves;
  return spent.matvecs + columns * perSolve >= n;
}

/** @internal Records a Krylov backward solve's cost in `spend` (created on the first one). */
export function recordKrylov(spend: KrylovSpend | undefined, info: Pick<SolveInfo, "iterations">): KrylovSpend {
  const s = spend ?? { matvecs: 0, solves: 0 };
  s.matvecs += Math.max(1, info.iterations);
  s.solves += 1;
  return s;
}

/**
 * @internal ‖op(A)·xⱼ − bⱼ‖ for every column j of the n×k `x` and `b` (op(A) = Aᵀ when `transpose`), on the values
 * (derivatives dropped): the certificate of a dense backward solve, as one matrix product.
 */
export function columnResiduals(a: Tensor, x: Tensor, b: Tensor, transpose: boolean): number[] {
  const A = stopGradient(a);
  const r = sub(matmul(transpose ? A.T : A, stopGradient(x)), stopGradient(b)).raw;
  const k = b.shape[1]!;
  const norms = new Array<number>(k).fill(0);
  for (let i = 0; i < r.length; i++) norms[i % k] += r[i]! ** 2;
  return norms.map(Math.sqrt);
}

/**
 * @internal The `vmap` level on top of `leaves` and its batch size, or null when the highest level among them is not
 * a batch (not under `vmap`, or under a derivative transform taken inside it).
 */
export function batchAtTop(leaves: readonly Tensor[]): { level: number; size: number } | null {
  const level = topLevel(leaves);
  const b = level === 0 ? undefined : leaves.find((l) => l.level === level && l.kind === TraceKind.Batch);
  return b === undefined ? null : { level, size: b.primal!.shape[b.outIndex]! };
}

/** @internal What {@link batchedCg} returns for each of its k right-hand sides. */
export interface BatchedCgResult {
  /** The k×n solutions, row-major. */
  x: Float64Array;
  /** Iterations each row took. */
  iterations: number[];
  /** ‖b − Ax‖ of each returned row, recomputed from x (not the recurrence's estimate). */
  residuals: number[];
  /** Each row meets max(rtol·‖b‖, atol). */
  converged: boolean[];
}

/**
 * @internal Conjugate gradients on k right-hand sides at once, on plain values: `b` holds them as the rows of a k×n
 * matrix and `matvecRows` applies the SPD operator to every row of a k×n matrix in one call (a batched matvec).
 * Each row runs its own recurrence (its own step sizes) and stops on its own; a stopped row's direction is zero, so
 * later batched matvecs leave it unchanged. The residuals are recomputed from the solutions at the end, as the
 * certificate.
 */
export function batchedCg(
  matvecRows: (v: Float64Array) => Float64Array,
  b: Float64Array,
  k: number,
  n: number,
  rtol: number,
  atol: number,
  maxIter: number,
): BatchedCgResult {
  const x = new Float64Array(k * n);
  const r = b.slice();
  const p = b.slice();
  const dot = (u: Float64Array, v: Float64Array, j: number) => {
    let s = 0;
    for (let i = j * n; i < (j + 1) * n; i++) s += u[i]! * v[i]!;
    return s;
  };
  const tol = Array.from({ length: k }, (_, j) => Math.max(rtol * Math.sqrt(dot(b, b, j)), atol));
  const rs = Array.from({ length: k }, (_, j) => dot(r, r, j));
  const iterations = new Array<number>(k).fill(0);
  const active = rs.map((v, j) => Math.sqrt(v) > tol[j]!);
  for (let it = 0; it < maxIter && active.some(Boolean); it++) {
    const ap = matvecRows(p);
    for (let j = 0; j < k; j++) {
      if (!active[j]) continue;
      const pAp = dot(p, ap, j);
      if (!(pAp > 0)) {
        active[j] = false; // not positive definite along p: the certificate below rejects the row
        continue;
      }
      const alpha = rs[j]! / pAp;
      for (let i = j * n; i < (j + 1) * n; i++) {
        x[i]! += alpha * p[i]!;
        r[i]! -= alpha * ap[i]!;
      }
      const next = dot(r, r, j);
      iterations[j]!++;
      if (Math.sqrt(next) <= tol[j]!) {
        active[j] = false;
        p.fill(0, j * n, (j + 1) * n);
      } else {
        const beta = next / rs[j]!;
        for (let i = j * n; i < (j + 1) * n; i++) p[i] = r[i]! + beta * p[i]!;
      }
      rs[j] = next;
    }
  }
  const ax = matvecRows(x);
  const residuals = Array.from({ length: k }, (_, j) => {
    let s = 0;
    for (let i = j * n; i < (j + 1) * n; i++) s += (b[i]! - ax[i]!) ** 2;
    return Math.sqrt(s);
  });
  return { x, iterations, residuals, converged: residuals.map((v, j) => v <= tol[j]!) };
}

/**
 * @internal Conjugate gradients on the rows of `rhs` at once (one batched matvec per iteration), for an operator declared
 * positive definite, when no derivative has to flow through the solve (the operator and the right-hand sides are
 * plain values, as in a first-order Jacobian). Null where it does not apply (then each row is solved on its own).
 */
export function batchedCgRows(
  op: LinearOperator,
  xStar: Tree,
  rhs: Tensor,
  opts: Pick<ImplicitOptions, "solve" | "positiveDefinite" | "maxIter" | "rtol" | "atol">,
) {
  const solve = opts.solve ?? "auto";
  const plain = rhs.level === 0 && flatten(op.params as Tree)[0].every((l) => l.level === 0);
  if (!opts.positiveDefinite || (solve !== "auto" && solve !== "cg") || !plain) return null;
  const [k, n] = rhs.shape as [number, number];
  const apply = vmap((v: Tensor) => toVector(op.matvec(fromVector(v, xStar)) as Tree));
  try {
    const matvecRows = (v: Float64Array) => (apply(new Tensor(v, [k, n])) as Tensor).raw;
    const maxIter = opts.maxIter ?? Math.max(10 * n, 100);
    return batchedCg(matvecRows, rhs.raw, k, n, opts.rtol ?? 1e-10, opts.atol ?? 1e-12, maxIter);
  } catch (e) {
    if (e instanceof BatchingError) return null; // a matvec that cannot be batched
    throw e;
  }
}

/** @internal `who` for batch element `element` of `size` of a `vmap`: how errors and diagnostics name the element. */
export function elementLabel(who: string, element: number, size: number): string {
  return `${who} (vmap batch element ${element} of ${size})`;
}

/**
 * @internal `fn` once per element of the `vmap` on top of `args`, with `where` naming that element (see
 * {@link elementLabel}) for its errors and `element` its index; undefined when no `vmap` is on top.
 */
export function labelledLoop<T>(
  who: string,
  fn: (where: string, element: number, ...args: Tree[]) => T,
  args: readonly Tree[],
): T | undefined {
  const top = batchAtTop(flatten(args as Tree)[0]);
  if (top === null) return undefined;
  let element = 0;
  return batchLoop(
    who,
    (...parts: Tree[]) => {
      const e = element++;
      return fn(elementLabel(who, e, top.size), e, ...parts);
    },
    args,
  );
}

/**
 * @internal Under `vmap`, an implicit derivative whose backward operator is batched (x* or the arguments differ per element)
 * is computed once per element, each with its own operator: `fn` on each element's values, with `where` naming the
 * element and the backward cache it should use. Each element of the operator keeps its own cache in
 * `cache.elements`, so that the rows of a Jacobian (`vmap(jacrev(f))`: the rows batched above the elements) reuse
 * the element's factorisation; a level that batches only the right-hand sides shares `cache`. When derivative levels
 * sit above the batch (`vmap(hessian(f))`), the batch is split from beneath them (see `split-beneath.ts`), whatever
 * is batched; so is a batch of the right-hand sides that lies beneath a derivative level of a shared operator (see
 * {@link rhsBatchesOnTop}). `resultLike` has the per-element structure and shapes of `fn`'s result (the arguments for
 * a VJP, x* for a JVP): over a batch of 0 elements the result is empty, shaped like it. Undefined when the operator
 * is shared by a batch on top (the multi-right-hand-side case of `solveAll` in root.ts) or nothing is batched.
 */
export function perElementDerivative<T>(
  who: string,
  operatorParts: readonly Tree[],
  rhsParts: readonly Tree[],
  resultLike: T,
  cache: BackwardCache,
  fn: (where: string, cache: BackwardCache, ...parts: Tree[]) => T,
): T | undefined {
  const opLeaves = flatten(operatorParts as Tree)[0];
  const args = [...operatorParts, ...rhsParts];
  const leaves = flatten(args as Tree)[0];
  const top = batchAtTop(leaves);
  if (top === null) {
    // A derivative level between the vmap and this rule (vmap(hessian(f)), vmap(grad(grad(f)))): the batch is split
    // from beneath the derivative levels, so that each element's solve reads its own numbers.
    const level = leaves.reduce((a, l) => Math.max(a, valueBatchLevel(l)), 0);
    if (level === 0) return undefined;
    const size = leaves.map((l) => batchSizeAt(l, level)).find((s) => s !== undefined)!;
    return size === 0 ? emptyBatch(resultLike, level) : splitBeneath(who, level, size, opLeaves, args, cache, fn);
  }
  if (!opLeaves.some(isBatched) && rhsBatchesOnTop(opLeaves, flatten(rhsParts as Tree)[0])) return undefined;
  if (top.size === 0) return emptyBatch(resultLike, top.level);
  const elements = opLeaves.some((l) => l.level === top.level) ? (cache.elements ??= []) : null;
  return labelledLoop(who, (where, e, ...parts) => fn(where, elements ? (elements[e] ??= {}) : cache, ...parts), args);
}

/**
 * The derivative over a `vmap` batch of 0 elements at `level`: empty, shaped like `like` per element. There is no
 * element whose solution could certify a solve (`vmap` finds an opaque function's output shapes by running it on a
 * stand-in element, but a stand-in for x* and θ taken apart is no root), and nothing to differentiate.
 */
function emptyBatch<T>(like: T, level: number): T {
  const [leaves, def] = flatten(like as Tree);
  return unflatten(
    def,
    leaves.map((l) => batchTracer(level, new Tensor(new Float64Array(0), [0, ...l.shape]), 0)),
  ) as T;
}

/**
 * True when `solveAll` (root.ts) can solve for the batched right-hand sides `rhs` with the shared operator: it peels
 * the batch levels on top of them one at a time, each above every level of the operator (`vmap(jacrev(f))`), and
 * must then find no batch left beneath. A batch beneath a level of the operator (`vmap(v ↦ jacfwd(jacrev(λ ↦
 * v·x*(λ))))`: the rows of the inner `jacrev` on top, the data `v` beneath the outer derivative, which traces the
 * operator) is not: the solution, traced at the operator's level, cannot be stacked below it. The batch on top is
 * then looped over, and the batch beneath is split from under the operator's levels (see `split-beneath.ts`).
 */
function rhsBatchesOnTop(opLeaves: readonly Tensor[], rhs: readonly Tensor[]): boolean {
  const opTop = topLevel(opLeaves);
  let leaves = rhs;
  for (let top = batchAtTop(leaves); top !== null && top.level > opTop; top = batchAtTop(leaves)) {
    const level = top.level;
    leaves = leaves.map((l) => (l.level === level ? l.primal! : l));
  }
  return leaves.every((l) => valueBatchLevel(l) === 0);
}

/** {@link perElementDerivative} for a batch at `level` beneath the derivative levels on top of `args`. */
function splitBeneath<T>(
  who: string,
  level: number,
  size: number,
  opLeaves: readonly Tensor[],
  args: readonly Tree[],
  cache: BackwardCache,
  fn: (where: string, cache: BackwardCache, ...parts: Tree[]) => T,
): T {
  const [leaves, def] = flatten(args as Tree);
  const split = leaves.map((l) => elementsBeneath(l, level, size));
  // Each element keeps its own cache when its operator is rebuilt for it: batched at `level`, or traced above it
  // (a reverse tracer gets a node per element, a forward one the element's tangent). A dense matrix cached from one
  // element's tracers would otherwise carry the other elements' derivatives to that element's place in the batch.
  const own = opLeaves.some((l, i) => split[i]!.some((p) => p !== l));
  const elements = own ? (cache.elements ??= []) : null;
  let outDef: TreeDef | undefined;
  const outs: Tensor[][] = [];
  for (let e = 0; e < size; e++) {
    const parts = unflatten<Tree[]>(
      def,
      split.map((l) => l[e]!),
    );
    const [ol, od] = flatten(fn(elementLabel(who, e, size), elements ? (elements[e] ??= {}) : cache, ...parts) as Tree);
    outDef ??= od;
    outs.push(ol);
  }
  return unflatten(
    outDef!,
    outs[0]!.map((_, k) =>
      stackBeneath(
        outs.map((o) => o[k]!),
        level,
      ),
    ),
  ) as T;
}

/**
 * @internal The aux outputs of the per-element solves of one call that ran once per element of the `vmap`s below a
 * derivative transform (`vmap(grad(…))`, `vmap(vmap(hessian(…)))`): stacked, and batched at those vmaps' levels.
 *
 * The custom call dispatches from the highest level down, so the solves ran in nested loops, the highest batch
 * level outermost: `auxes` is in that (row-major) order. A batch of 0 elements runs its loop body once, on a
 * stand-in element, for the shapes only: its aux gives the shape of an empty stack.
 */
export function stackedAux(auxes: readonly Tree[], args: readonly Tensor[], who: string): Tree {
  const sizes = new Map<number, number>();
  for (const a of args) {
    for (let u: Tensor | null = a; u !== null && u.level > 0; u = u.primal) {
      if (u.kind === TraceKind.Batch) sizes.set(u.level, u.primal!.shape[u.outIndex]!);
    }
  }
  const levels = [...sizes.keys()].sort((a, b) => b - a);
  const runs = levels.map((l) => Math.max(sizes.get(l)!, 1));
  const expected = runs.reduce((a, b) => a * b, 1);
  if (auxes.length !== expected) {
    throw new BatchingError(
      `${who}: hasAux: ${auxes.length} solves ran under vmaps of sizes ${levels.map((l) => sizes.get(l)).join(" × ")}, which need ${expected}; return the aux from a call of the layer outside the derivative`,
    );
  }
  const auxDef = flatten(auxes[0])[1];
  // The leaves of the aux batched at levels[k…], from the solves starting at `first`.
  const build = (k: number, first: number): Tensor[] => {
    if (k === levels.length) return flatten(auxes[first])[0];
    const stride = runs.slice(k + 1).reduce((a, b) => a * b, 1);
    const parts = Array.from({ length: runs[k]! }, (_, e) => build(k + 1, first + e * stride));
    const empty = sizes.get(levels[k]!) === 0;
    return parts[0]!.map((_, j) => {
      const stacked = stack(parts.map((p) => p[j]!));
      return batchTracer(levels[k]!, empty ? sliceAxis(stacked, 0, 0, 0) : stacked, 0);
    });
  };
  return unflatten(auxDef, build(0, 0));
}

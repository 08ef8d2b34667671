/**
 * LU-based ops: the factorisation object `lu`, `solve`, `inv`, `det` and `slogdet`, all differentiable.
 * @module
 */
import { customCall, type CustomRule } from "../../core/custom.js";
import { BatchingError, ValueError } from "../../core/errors.js";
import { Tensor, asTensor, eye, isBatched, scalar, type TensorLike } from "../../core/tensor.js";
import { vmap } from "../../core/vmap.js";
import { stripDerivatives } from "../../core/engine.js";
import { mul } from "../../core/ops/elementwise.js";
import { sum } from "../../core/ops/reduce.js";
import { transpose } from "../../core/ops/shape.js";
import { matrixArg, restoreRhs, rhsArg, symmetricPart, symmetrize } from "./checks.js";
import { LinearOperator } from "../operator.js";
import { linearSolve } from "../solve.js";
import { choleskySolver, factoredSolve, luSolver, type DirectSolver } from "./factored.js";
import type { LuFactors } from "./kernels.js";

/**
 * The LU factorisation P·A = L·U of a square matrix, made once and reused for any number of right-hand sides.
 * Every method is differentiable with respect to its argument and to the factorised A.
 */
export interface LuFactorization {
  /** The order of A. */
  readonly n: number;
  /** True when A is singular to working precision (then `solve`, `solveTranspose` and `inv` throw). */
  readonly singular: boolean;
  /**
   * The raw factors (unit-lower L and U packed row-major in `lu`; row i of P·A is row `piv[i]` of A). Plain
   * numbers: they carry no derivative.
   */
  readonly factors: LuFactors;
  /** A⁻¹·b for b of shape [n] or [n, k]. */
  solve(b: TensorLike): Tensor;
  /** A⁻ᵀ·b for b of shape [n] or [n, k]. */
  solveTranspose(b: TensorLike): Tensor;
  /** The inverse A⁻¹. */
  inv(): Tensor;
  /** The determinant (0 for an exactly singular A; its derivative needs A invertible). */
  det(): Tensor;
  /** Sign and log|det A| (sign 0 and −∞ for an exactly singular A). */
  slogdet(): { sign: Tensor; logabsdet: Tensor };
}

/**
 * Factorises the square matrix `a` once (LU with partial pivoting) and returns an object that solves with A or
 * Aᵀ, inverts, and computes determinants without refactorising. `solve(b)` is differentiable with respect to b
 * and to A (when A is traced): forward dx = A⁻¹(db − dA·x), reverse b̄ = A⁻ᵀx̄, Ā = −b̄xᵀ; the rules reuse the
 * stored factors, and are themselves differentiable.
 *
 * Under `vmap` with A batched, the methods work on the batch and are differentiable (`vmap(grad(f))` included),
 * but each call factorises every element again (the object holds no batch of factors), and `singular` and
 * `factors`, one matrix's plain values, throw a `BatchingError`.
 *
 * Throws a `ShapeError` for a non-square or non-2-D A and a `NonFiniteError` for NaN/Inf entries; `solve` on a
 * singular A throws a `LinearSolveError`.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const f = linalg.lu(tensor([[4, 3], [6, 3]]));
 * f.solve(tensor([10, 12])).toArray();    // [1, 2]
 * f.solve(tensor([[7], [9]])).toArray();  // [[1], [1]]
 * f.det().item();                         // -6
 * ```
 */
export function lu(a: TensorLike): LuFactorization {
  const { t, n } = matrixArg(a, "lu", "A", true);
  if (isBatched(t)) return batchedLu(t, n);
  const solver = luSolver(t.raw, n);
  const solveWith = (b: TensorLike, transpose: boolean, who: string): Tensor => {
    const { b: bb, vector } = rhsArg(b, n, who);
    return restoreRhs(factoredSolve(solver, t, bb, transpose, who), vector);
  };
  return {
    n,
    singular: solver.singular,
    factors: solver.factors,
    solve: (b) => solveWith(b, false, "lu(A).solve"),
    solveTranspose: (b) => solveWith(b, true, "lu(A).solveTranspose"),
    inv: () => factoredSolve(solver, t, eye(n), false, "lu(A).inv"),
    det: () => detFromFactors(factoredSource(solver, "lu(A).det"), t, "lu(A).det"),
    slogdet: () => slogdetFromFactors(factoredSource(solver, "lu(A).slogdet"), t, "lu(A).slogdet"),
  };
}

/**
 * `lu` of an A batched by vmap (at any level): the methods work on the batch and stay differentiable, each solving
 * through one factorisation per element (made by the call, not shared between methods: a factorisation object
 * holds one matrix's numbers). `singular` and `factors` are one matrix's plain values and throw a `BatchingError`.
 */
function batchedLu(t: Tensor, n: number): LuFactorization {
  const solveWith = (a: Tensor, b: TensorLike, who: string): Tensor => {
    const { b: bb, vector } = rhsArg(b, n, who);
    return restoreRhs(batchedSolve(a, bb, "gen", who), vector);
  };
  const plainValues = (what: string): never => {
    throw new BatchingError(
      `lu(A).${what}: A is batched by vmap, and ${what} holds one matrix's plain values; read it from lu of each matrix outside vmap, or use the object's solve, solveTranspose, inv, det and slogdet, which work on the batch`,
    );
  };
  return {
    n,
    get singular(): boolean {
      return plainValues("singular");
    },
    get factors(): LuFactors {
      return plainValues("factors");
    },
    solve: (b) => solveWith(t, b, "lu(A).solve"),
    solveTranspose: (b) => solveWith(transpose(t, [1, 0]), b, "lu(A).solveTranspose"),
    inv: () => batchedSolve(t, eye(n), "gen", "lu(A).inv"),
    det: () => detFromFactors(detSource(t, n, "lu(A).det"), t, "lu(A).det"),
    slogdet: () => slogdetFromFactors(detSource(t, n, "lu(A).slogdet"), t, "lu(A).slogdet"),
  };
}

/** Options of {@link solve}. */
export interface SolveOptions {
  /**
   * What is known of A: `"gen"` (default) general, LU with partial pivoting; `"sym"` symmetric, LU of the
   * symmetric part (A + Aᵀ)/2; `"pos"` symmetric positive definite, Cholesky of the symmetric part. With
   * `"sym"`/`"pos"` the result and its derivatives are those of the symmetric part of A.
   */
  readonly assumeA?: "gen" | "sym" | "pos";
}

/**
 * Solves A·x = b for a square A; `b` is a vector [n] or a matrix [n, k] (k right-hand sides, one factorisation).
 * Differentiable with respect to A and b, to any order.
 *
 * Throws a `LinearSolveError` when A is singular (or, with `assumeA: "pos"`, not positive definite), a
 * `ShapeError` for a non-square A or mismatched b, a `NonFiniteError` for NaN/Inf entries.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * linalg.solve(tensor([[3, 1], [1, 2]]), tensor([9, 8])).toArray();                    // [2, 3]
 * linalg.solve(tensor([[2, 1], [1, 2]]), tensor([3, 3]), { assumeA: "pos" }).toArray(); // ≈ [1, 1]
 * ```
 */
export function solve(a: TensorLike, b: TensorLike, opts: SolveOptions = {}): Tensor {
  const fn = "solve";
  if (isBatched(asTensor(a))) return batchedSolve(asTensor(a), b, opts.assumeA ?? "gen", fn);
  const { t, n } = matrixArg(a, fn, "A", true);
  const { b: bb, vector } = rhsArg(b, n, fn);
  const assume = opts.assumeA ?? "gen";
  let solver: DirectSolver;
  if (assume === "gen") solver = luSolver(t.raw, n);
  else if (assume === "sym") solver = luSolver(symmetricPart(t.raw, n), n, true);
  else if (assume === "pos") solver = choleskySolver(symmetricPart(t.raw, n), n, fn);
  else throw new ValueError(`${fn}: assumeA must be "gen", "sym" or "pos", got ${JSON.stringify(assume)}`);
  return restoreRhs(factoredSolve(solver, t, bb, false, fn), vector);
}

/**
 * The inverse of a square matrix (differentiable: dA⁻¹ = −A⁻¹·dA·A⁻¹). Prefer {@link solve} to multiplying by
 * the inverse. Throws a `LinearSolveError` when A is singular.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * linalg.inv(tensor([[2, 0], [0, 4]])).toArray(); // [[0.5, 0], [0, 0.25]]
 * ```
 */
export function inv(a: TensorLike): Tensor {
  const x = asTensor(a);
  if (isBatched(x)) return batchedSolve(x, eye(x.shape[0] ?? 0), "gen", "inv");
  const { t, n } = matrixArg(a, "inv", "A", true);
  return factoredSolve(luSolver(t.raw, n), t, eye(n), false, "inv");
}

/**
 * `solve` with A batched by `vmap`: a factorisation per element, through `linearSolve` (whose custom rule runs once
 * per element under every nesting, `vmap(grad(f))` included), with `solve`'s semantics: LU of A, of its symmetric
 * part for "sym", Cholesky of the symmetric part for "pos".
 */
function batchedSolve(a: Tensor, b: TensorLike, assume: NonNullable<SolveOptions["assumeA"]>, fn: string): Tensor {
  const { t, n } = matrixArg(a, fn, "A", true);
  const { b: bb, vector } = rhsArg(b, n, fn);
  if (assume !== "gen" && assume !== "sym" && assume !== "pos") {
    throw new ValueError(`${fn}: assumeA must be "gen", "sym" or "pos", got ${JSON.stringify(assume)}`);
  }
  const op = LinearOperator.fromMatrix(assume === "gen" ? t : symmetrize(t));
  const solver = assume === "pos" ? "cholesky" : "lu";
  // The columns of b as a batch: one factorisation of each element's A serves all of them.
  const x = vmap((col: Tensor) => linearSolve(op, col, { solver }).value, { inAxes: 1, outAxes: 1 })(bb) as Tensor;
  return restoreRhs(x, vector);
}

/**
 * The determinant of a square matrix, from its LU factorisation. Differentiable (d det = det·tr(A⁻¹dA)) where A
 * is invertible; the derivative at a singular A throws a `LinearSolveError` (use {@link slogdet} for large or
 * small determinants).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * linalg.det(tensor([[1, 2], [3, 4]])).item(); // -2
 * ```
 */
export function det(a: TensorLike): Tensor {
  const { t, n } = matrixArg(a, "det", "A", true);
  return detFromFactors(detSource(t, n, "det"), t, "det");
}

/**
 * Sign and natural log of the absolute determinant, robust to overflow: det A = sign·exp(logabsdet). For an
 * exactly singular A, sign is 0 and logabsdet −∞. `logabsdet` is differentiable (its gradient is A⁻ᵀ) where A is
 * invertible; `sign` is piecewise constant (zero derivative).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const { sign, logabsdet } = linalg.slogdet(tensor([[0, 2], [3, 0]]));
 * console.log(sign.item(), logabsdet.item()); // -1 1.791759469228055 (log 6)
 * ```
 */
export function slogdet(a: TensorLike): { sign: Tensor; logabsdet: Tensor } {
  const { t, n } = matrixArg(a, "slogdet", "A", true);
  return slogdetFromFactors(detSource(t, n, "slogdet"), t, "slogdet");
}

/** Sign and log|det| from LU factors: the pivots' product times the permutation's parity. */
function logDetParts(f: LuFactors, n: number): { sign: number; logabs: number } {
  let sign = permutationSign(f.piv);
  let logabs = 0;
  for (let i = 0; i < n; i++) {
    const u = f.lu[i * n + i]!;
    if (u === 0) return { sign: 0, logabs: -Infinity };
    if (u < 0) sign = -sign;
    logabs += Math.log(Math.abs(u));
  }
  return { sign, logabs };
}

function permutationSign(piv: Int32Array): number {
  const seen = new Uint8Array(piv.length);
  let sign = 1;
  for (let i = 0; i < piv.length; i++) {
    if (seen[i]) continue;
    let len = 0;
    for (let j = i; !seen[j]; j = piv[j]!) {
      seen[j] = 1;
      len++;
    }
    if (len % 2 === 0) sign = -sign;
  }
  return sign;
}

type LuSolver = ReturnType<typeof luSolver>;

/**
 * Where the determinant rules get A's LU factors and A⁻ᵀ (as a differentiable function of A): from one
 * factorisation made by the caller, or, for A batched by vmap (at any level, vmap(grad(f)) included), from the
 * values each element's custom call is given, with A⁻ᵀ by a solve that batches.
 */
interface DetSource {
  factors(av: Tensor): LuFactors;
  inverseT(av: Tensor): Tensor;
}

function factoredSource(solver: LuSolver, who: string): DetSource {
  return { factors: () => solver.factors, inverseT: (av) => inverseTranspose(solver, av, who) };
}

function detSource(t: Tensor, n: number, who: string): DetSource {
  if (!isBatched(t)) return factoredSource(luSolver(t.raw, n), who);
  return {
    factors: (av) => luSolver(av.raw, n).factors,
    inverseT: (av) => batchedSolve(transpose(av, [1, 0]), eye(n), "gen", `${who} (derivative)`),
  };
}

function detFromFactors(source: DetSource, a: Tensor, who: string): Tensor {
  const n = a.shape[0]!;
  const rule: CustomRule<undefined> = {
    name: who,
    primal([av]) {
      const f = source.factors(av!);
      let d = permutationSign(f.piv);
      for (let i = 0; i < n; i++) d *= f.lu[i * n + i]!;
      return { outs: [scalar(d === 0 ? 0 : d)], res: undefined };
    },
    residuals() {
      return undefined;
    },
    // d det = det · tr(A⁻¹ dA) = det · ⟨A⁻ᵀ, dA⟩.
    jvp([av], [ta], [d]) {
      return [mul(d!, sum(mul(source.inverseT(av!), ta!)))];
    },
    vjp([av], [d], [ct]) {
      return [ct === null ? null : mul(mul(ct, d!), source.inverseT(av!))];
    },
  };
  return customCall(rule, [a])[0]!;
}

/** log|det A| and its sign (piecewise constant: no derivative) as the two outputs of one custom call. */
function slogdetFromFactors(source: DetSource, a: Tensor, who: string): { sign: Tensor; logabsdet: Tensor } {
  const n = a.shape[0]!;
  const rule: CustomRule<undefined> = {
    name: who,
    primal([av]) {
      const { sign, logabs } = logDetParts(source.factors(av!), n);
      return { outs: [scalar(logabs), scalar(sign)], res: undefined };
    },
    residuals() {
      return undefined;
    },
    // d log|det A| = ⟨A⁻ᵀ, dA⟩.
    jvp([av], [ta]) {
      return [sum(mul(source.inverseT(av!), ta!)), null];
    },
    vjp([av], _outs, [ct]) {
      return [ct === null ? null : mul(ct, source.inverseT(av!))];
    },
  };
  const [logabsdet, sign] = customCall(rule, [a]);
  // The sign carries no derivative level (its value stays readable under grad), only vmap's batch.
  return { sign: stripDerivatives(sign!), logabsdet: logabsdet! };
}

/** A⁻ᵀ as a differentiable function of A, from the stored factors. */
function inverseTranspose(solver: DirectSolver, a: Tensor, who: string): Tensor {
  return factoredSolve(solver, a, eye(solver.n), true, `${who} (derivative)`);
}

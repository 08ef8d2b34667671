/**
 * `cholesky`: the differentiable Cholesky factorisation object.
 * @module
 */
import { customCall, type CustomRule } from "../../core/custom.js";
import { Tensor, eye, isBatched, type TensorLike } from "../../core/tensor.js";
import { log, mul } from "../../core/ops/elementwise.js";
import { matmul } from "../../core/ops/matmul.js";
import { sum } from "../../core/ops/reduce.js";
import { transpose } from "../../core/ops/shape.js";
import { mask, matrixArg, restoreRhs, rhsArg, symmetricPart, symmetrize } from "./checks.js";
import { choleskySolver, factoredSolve } from "./factored.js";
import { triangularSolveRaw } from "./triangular.js";

/** The Cholesky factorisation A = L·Lᵀ of a symmetric positive definite matrix, reusable for many solves. */
export interface CholeskyFactorization {
  /** The lower-triangular factor, differentiable with respect to A. */
  readonly L: Tensor;
  /** A⁻¹·b for b of shape [n] or [n, k], differentiable with respect to b and A. */
  solve(b: TensorLike): Tensor;
  /** log det A = 2·Σ log Lᵢᵢ, differentiable (gradient A⁻¹). */
  logdet(): Tensor;
}

/**
 * Factorises a symmetric positive definite matrix once: A = L·Lᵀ with L lower triangular. A is taken as its
 * symmetric part (A + Aᵀ)/2, so derivatives with respect to A are symmetric. The derivative of L is the standard
 * one: dL = L·Φ(L⁻¹·dA·L⁻ᵀ), with Φ taking the lower triangle and halving the diagonal; the reverse rule is its
 * transpose, Ā = sym(L⁻ᵀ·Φ(Lᵀ·L̄)·L⁻¹). `solve` reuses the factor (no refactorisation).
 *
 * Throws a `LinearSolveError` when A is not positive definite, a `ShapeError` for a non-square A, a
 * `NonFiniteError` for NaN/Inf entries.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const c = linalg.cholesky(tensor([[4, 2], [2, 5]]));
 * c.L.toArray();                       // [[2, 0], [1, 2]]
 * c.solve(tensor([6, 7])).toArray();   // [1, 1]
 * c.logdet().item();                   // log 16
 * ```
 */
export function cholesky(a: TensorLike): CholeskyFactorization {
  const { t, n } = matrixArg(a, "cholesky", "A", true);
  if (isBatched(t)) {
    // A batched by vmap (at any level, vmap(grad(f)) included): each element is factorised in the custom call's
    // primal, and solves go through the batch of factors, so every derivative is traced by the levels around.
    const batchedL = customCall(choleskyRule(n, null), [t])[0]!;
    return factorization(batchedL, (bb) =>
      triangularSolveRaw(batchedL, triangularSolveRaw(batchedL, bb, lowerOpts), lowerTransOpts),
    );
  }
  const solver = choleskySolver(symmetricPart(t.raw, n), n, "cholesky");
  const L = customCall(choleskyRule(n, solver.l), [t])[0]!;
  return factorization(L, (bb) => factoredSolve(solver, t, bb, false, "cholesky(A).solve"));
}

/**
 * The custom rule A ↦ L: its primal returns `factor` (made by the caller) or, when null, factorises the values it
 * is given (once per element under vmap); the derivative rules are written with ops on L, so they batch.
 */
function choleskyRule(n: number, factor: Float64Array | null): CustomRule<undefined> {
  const phi = mask(n, (i, j) => (i > j ? 1 : i === j ? 0.5 : 0));
  return {
    name: "cholesky",
    primal([av]) {
      const l = factor ?? choleskySolver(symmetricPart(av!.raw, n), n, "cholesky").l;
      return { outs: [new Tensor(l, [n, n])], res: undefined };
    },
    residuals() {
      return undefined;
    },
    jvp(_primals, [ta], [l]) {
      // S = L⁻¹·sym(dA)·L⁻ᵀ, computed as L⁻¹·(L⁻¹·sym(dA))ᵀ since sym(dA) is symmetric.
      const y = triangularSolveRaw(l!, symmetrize(ta!), lowerOpts);
      const s = triangularSolveRaw(l!, transpose(y, [1, 0]), lowerOpts);
      return [matmul(l!, mul(s, phi))];
    },
    vjp(_primals, [l], [ct]) {
      if (ct === null) return [null];
      const g = mul(matmul(transpose(l!, [1, 0]), ct), phi);
      // Z = L⁻ᵀ·G, then Z·L⁻¹ = (L⁻ᵀ·Zᵀ)ᵀ.
      const z = triangularSolveRaw(l!, g, lowerTransOpts);
      const zl = transpose(triangularSolveRaw(l!, transpose(z, [1, 0]), lowerTransOpts), [1, 0]);
      return [symmetrize(zl)];
    },
  };
}

/** The factorisation object of the factor `L`, solving n×k right-hand sides with `solveCols`. */
function factorization(L: Tensor, solveCols: (b: Tensor) => Tensor): CholeskyFactorization {
  const n = L.shape[0]!;
  return {
    L,
    solve(b) {
      const { b: bb, vector } = rhsArg(b, n, "cholesky(A).solve");
      return restoreRhs(solveCols(bb), vector);
    },
    logdet: () => mul(sum(log(sum(mul(L, eye(n)), { axis: 1 }))), 2),
  };
}

const lowerOpts = { lower: true, transpose: false, unitDiagonal: false };
const lowerTransOpts = { lower: true, transpose: true, unitDiagonal: false };

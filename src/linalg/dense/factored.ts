/**
 * The differentiable solve with stored factors, shared by `solve`, `inv`, `lu(A).solve`, `cholesky(A).solve` and
 * the derivative rules of `det` and `slogdet`.
 *
 * A {@link DirectSolver} holds the factors of the concrete values of a square matrix A. {@link factoredSolve} is a
 * custom call on the inputs [A, B] (A the traced matrix that was factorised) with the implicit rules of
 * X = op(A)⁻¹·B, op(A) = A or Aᵀ:
 * - forward: dX = op(A)⁻¹·(dB − op(dA)·X);
 * - reverse: B̄ = op(A)⁻ᵀ·X̄, and Ā = −B̄·Xᵀ (or −X·B̄ᵀ when op is the transpose), summed over right-hand sides.
 *
 * Both rules call `factoredSolve` again at the lowered values with the same factors (A's values are the same at
 * every level), so no rule refactorises and every derivative is itself differentiable. A solver marked
 * `symmetric` works on the symmetric part of A: its tangents and cotangents of A are symmetrised.
 *
 * @module
 */
import { customCall, type CustomRule } from "../../core/custom.js";
import { Tensor } from "../../core/tensor.js";
import { neg, sub } from "../../core/ops/elementwise.js";
import { matmul } from "../../core/ops/matmul.js";
import { transpose } from "../../core/ops/shape.js";
import { rhsBatch, symmetrize } from "./checks.js";
import { LinearSolveError } from "./errors.js";
import { choleskyFactor, choleskySolve, luFactor, luMinPivot, luSolve, type LuFactors } from "./kernels.js";

/** Factors of the concrete values of an n×n matrix, able to solve with it and with its transpose. */
export interface DirectSolver {
  readonly n: number;
  /** True when the solver uses the symmetric part of A (then the transposed solve is the same solve). */
  readonly symmetric: boolean;
  /**
   * Solves op(A)·X = B for row-major n×k `b`; throws a `LinearSolveError` naming `who` (the public function
   * asking) when A is singular.
   */
  solve(b: Float64Array, transpose: boolean, who: string): Float64Array;
}

let factorizations = 0;

/**
 * @internal Number of dense LU/Cholesky factorisations run since the module loaded (a diagnostic: the tests use
 * it to check that factorisation objects and derivative rules reuse their factors).
 */
export function factorizationCount(): number {
  return factorizations;
}

/**
 * An LU solver for the n×n row-major `a`; `symmetric` declares that `a` holds the symmetric part of the traced
 * matrix (so tangents and cotangents of A are symmetrised).
 */
export function luSolver(
  a: Float64Array,
  n: number,
  symmetric = false,
): DirectSolver & { factors: LuFactors; singular: boolean } {
  factorizations++;
  const f = luFactor(a, n);
  const factors: LuFactors = { lu: f.lu, piv: f.piv };
  return {
    n,
    symmetric,
    factors,
    singular: f.singular,
    solve(b, transpose, who) {
      if (f.singular) throw singularError(who, f.lu, n, a);
      return luSolve(factors, n, b, transpose && !symmetric);
    },
  };
}

function singularError(who: string, lu: Float64Array, n: number, a: Float64Array): LinearSolveError {
  let amax = 0;
  for (let i = 0; i < n * n; i++) amax = Math.max(amax, Math.abs(a[i]!));
  const { index, value } = luMinPivot(lu, n);
  return new LinearSolveError(
    `${who}: the matrix is singular to working precision: LU pivot ${index} has magnitude ${value.toExponential(3)}` +
      ` (threshold n·eps·max|A| = ${(n * Number.EPSILON * amax).toExponential(3)})`,
  );
}

/**
 * A Cholesky solver for the symmetric positive definite n×n `a` (symmetric part taken by the caller); throws a
 * `LinearSolveError` naming `who` when `a` is not positive definite.
 */
export function choleskySolver(a: Float64Array, n: number, who: string): DirectSolver & { l: Float64Array } {
  factorizations++;
  const l = choleskyFactor(a, n);
  if (l === null) {
    throw new LinearSolveError(
      `${who}: the matrix is not positive definite (the Cholesky factorisation met a non-positive or negligible pivot)`,
    );
  }
  return { n, symmetric: true, l, solve: (b) => choleskySolve(l, n, b) };
}

/**
 * op(A)⁻¹·B with the factors in `solver` (of A's values), differentiable with respect to A and B. `b` is n×k;
 * `who` names the public function for errors.
 */
export function factoredSolve(solver: DirectSolver, a: Tensor, b: Tensor, transpose: boolean, who: string): Tensor {
  // Plain operands (an implicit layer's first-order backward solve, a solve outside any transform): no derivative
  // can be asked of the result, so the solve runs without the custom call and its rules.
  if (a.level === 0 && b.level === 0) return new Tensor(solver.solve(b.raw, transpose, who), [solver.n, b.shape[1]!]);
  const rule: CustomRule<undefined> = {
    name: who,
    primal([, rhs]) {
      const n = solver.n;
      const k = rhs!.shape[1]!;
      return { outs: [new Tensor(solver.solve(rhs!.raw, transpose, who), [n, k])], res: undefined };
    },
    residuals() {
      return undefined;
    },
    jvp([a], [ta, tb], [x]) {
      let rhs: Tensor | null = tb;
      if (ta !== null) {
        const dAx = matmul(opOf(solver, ta, transpose), x!);
        rhs = rhs === null ? neg(dAx) : sub(rhs, dAx);
      }
      return [factoredSolve(solver, a!, rhs!, transpose, who)];
    },
    vjp([a], [x], [ct], _res, needs) {
      if (ct === null) return [null, null];
      const bBar = factoredSolve(solver, a!, ct, !transpose, who);
      let aBar: Tensor | null = null;
      if (needs[0]) {
        const outer = transpose ? matmul(x!, matrixT(bBar)) : matmul(bBar, matrixT(x!));
        aBar = neg(solver.symmetric ? symmetrize(outer) : outer);
      }
      return [aBar, needs[1] ? bBar : null];
    },
  };
  rule.batch = rhsBatch(rule, (av, cols) => factoredSolve(solver, av, cols, transpose, who));
  return customCall(rule, [a, b])[0]!;
}

/** The tangent op(dA) seen by the solve: dA or dAᵀ, symmetrised for symmetric solvers. */
function opOf(solver: DirectSolver, ta: Tensor, transposed: boolean): Tensor {
  if (solver.symmetric) return symmetrize(ta);
  return transposed ? matrixT(ta) : ta;
}

function matrixT(x: Tensor): Tensor {
  return transpose(x, [1, 0]);
}

/**
 * The truncated Neumann series, a fixed-cost approximate solve.
 * @module
 */
import type { Tensor } from "../../core/tensor.js";
import { ValueError } from "../../core/errors.js";
import type { Tree } from "../../core/tree.js";
import { LinearSolveError } from "../dense/errors.js";
import type { AnyLinearOperator } from "../operator.js";
import { checkConcrete, nrm2, prepare, residual, settings, type FlatOperator, type KrylovResult } from "./common.js";

/** Options of {@link neumann}. */
export interface NeumannOptions {
  /** Number of terms of the series (matvecs). Default 10. */
  k?: number;
  /** Step α: the series approximates A⁻¹ = α Σ (I − αA)ⁱ, which converges when ρ(I − αA) < 1. Default 1. */
  alpha?: number;
  /** Tolerances deciding `info.converged` only (the series always runs its k terms). Defaults 1e-10 and 0. */
  rtol?: number;
  atol?: number;
  /** Throw a `LinearSolveError` when the series diverged (default true); see {@link neumann}. */
  throwOnFailure?: boolean;
}

/** @internal Validated Neumann parameters. */
export function neumannParams(opts: NeumannOptions, who: string): { k: number; alpha: number } {
  const k = opts.k ?? 10;
  const alpha = opts.alpha ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new ValueError(`${who}: k must be a positive integer, got ${k}`);
  if (!Number.isFinite(alpha) || alpha === 0)
    throw new ValueError(`${who}: alpha must be finite and non-zero, got ${alpha}`);
  return { k, alpha };
}

/**
 * @internal x = α Σ_{i<k} (I − αA)ⁱ b, by the recurrence tᵢ₊₁ = tᵢ − αA tᵢ. Returns x and ‖b − Ax‖ (which equals
 * ‖(I − αA)ᵏ b‖).
 */
export function neumannFlat(
  A: FlatOperator,
  b: Float64Array,
  k: number,
  alpha: number,
): { x: Float64Array; residualNorm: number } {
  const n = b.length;
  const term = new Float64Array(n);
  for (let i = 0; i < n; i++) term[i] = alpha * b[i]!;
  const x = term.slice();
  for (let j = 1; j < k; j++) {
    const at = A.apply(term);
    for (let i = 0; i < n; i++) {
      const t = term[i]! - alpha * at[i]!;
      term[i] = t;
      x[i]! += t;
    }
  }
  return { x, residualNorm: nrm2(residual(A, b, x)) };
}

/**
 * @internal The verdict on a Neumann approximation: converged when ‖b − Ax‖ ≤ max(rtol‖b‖, atol); a failure
 * (thrown unless disabled) when x is not finite or ‖b − Ax‖ > ‖b‖, i.e. the series diverged and x is worse than 0.
 */
export function neumannVerdict(
  res: number,
  bNorm: number,
  k: number,
  s: { rtol: number; atol: number; throwOnFailure: boolean },
  who: string,
): boolean {
  if (!(res <= bNorm) && s.throwOnFailure) {
    throw new LinearSolveError(
      `${who}: the Neumann series diverged: ‖b − Ax‖ = ${res.toExponential(3)} > ‖b‖ = ${bNorm.toExponential(3)} after ${k} terms; it needs ρ(I − αA) < 1, so lower alpha`,
      res,
      k,
    );
  }
  return res <= Math.max(s.rtol * bNorm, s.atol);
}

/**
 * Approximates A⁻¹b by the truncated Neumann series x = α Σ_{i<k} (I − αA)ⁱ b (k matvecs), a cheap fixed-cost
 * approximation used e.g. for hypergradients; exact in the limit when the spectral radius of I − αA is below 1.
 * `info.converged` tells whether ‖b − A x‖ ≤ max(rtol·‖b‖, atol); only a diverging series (‖b − A x‖ > ‖b‖, or a
 * non-finite x) throws a `LinearSolveError` (unless `throwOnFailure: false`). Runs on plain values; use
 * `linearSolve(op, b, { solver: "neumann" })` for a differentiable solve.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const A = linalg.LinearOperator.fromMatrix(tensor([[1, 0.1], [0.1, 1]]));
 * linalg.neumann(A, tensor([1.1, 1.1]), { k: 30 }).value.toArray(); // ≈ [1, 1]
 * ```
 */
export function neumann<T extends Tree = Tensor>(
  op: AnyLinearOperator,
  b: T,
  opts: NeumannOptions = {},
): KrylovResult<T> {
  checkConcrete(op, b, "neumann");
  const { k, alpha } = neumannParams(opts, "neumann");
  const p = prepare(op, b, undefined, "neumann", false);
  const s = settings(opts, p.A.n, "neumann");
  const { x, residualNorm } = neumannFlat(p.A, p.b, k, alpha);
  const converged = neumannVerdict(residualNorm, nrm2(p.b), k, s, "neumann");
  return { value: p.inSpace.tree(x) as T, info: { iterations: k, residualNorm, converged } };
}

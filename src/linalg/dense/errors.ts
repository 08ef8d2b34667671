/**
 * The error of a linear solve that cannot produce a trustworthy solution.
 * @module
 */
import { DiffoptError } from "../../core/errors.js";

/**
 * A linear system could not be solved: the matrix is singular (or not positive definite where that is
 * required), or an iterative solver did not reach its tolerance. `residualNorm` is ‖A·x − b‖ of the best iterate
 * (NaN when no iterate exists, as for a failed factorisation) and `iterations` the number of iterations run
 * (0 for a direct method).
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * try { linalg.solve(tensor([[1, 2], [2, 4]]), tensor([1, 1])); } catch (e) {
 *   console.log(e instanceof linalg.LinearSolveError); // true
 * }
 * ```
 */
export class LinearSolveError extends DiffoptError {
  /** ‖A·x − b‖ of the best available iterate; NaN when there is none. */
  readonly residualNorm: number;
  /** Iterations run (0 for a direct factorisation). */
  readonly iterations: number;

  constructor(message: string, residualNorm = Number.NaN, iterations = 0) {
    super(message);
    this.residualNorm = residualNorm;
    this.iterations = iterations;
  }
}

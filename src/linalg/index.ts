/**
 * Linear algebra: linear operators on pytrees, matrix-free Krylov solvers, and the differentiable
 * `linearSolve`, plus the dense factorisations.
 * @module
 */
export {
  LinearOperator,
  compose,
  addOperators,
  scale,
  ridge,
  diagonal,
  identity,
  type OperatorTags,
  type AnyLinearOperator,
} from "./operator.js";
export * from "./krylov/index.js";
export {
  linearSolve,
  resolveSolver,
  type SolverName,
  type SolveInfo,
  type LinearSolveOptions,
  type LinearSolveResult,
} from "./solve.js";
export * from "./dense/index.js";
export { iterativeRefinement, type IterativeRefinementOptions } from "./iterative-refinement.js";

/**
 * Quadratic and linear programs as differentiable layers: solvers returning the primal and dual solution of
 * min ½xᵀQx + cᵀx s.t. Ax = b, Gx ≤ h, differentiable with respect to every tensor of the problem through the
 * KKT conditions.
 *
 * @module
 */
export { QPError, type QPOptions, type QPState } from "./base.js";
export type { QPProblem, QPSolution, QPMatrix, BoxQPProblem, BoxQPSolution } from "./problem.js";
export { InteriorPointQP, type InteriorPointQPOptions, type InteriorPointQPState } from "./interior-point.js";
export { EqualityConstrainedQP, type EqualityConstrainedQPOptions } from "./equality.js";
export { OSQP, BoxOSQP, type OSQPOptions, type OSQPState } from "./osqp.js";
export { linearProgram, type LPConstraints } from "./lp.js";

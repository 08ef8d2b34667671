/**
 * Matrix-free solvers on concrete values: `cg`, `minres`, `gmres`, `bicgstab`, `normalCg`, `lsqr`, `neumann`, and
 * the Jacobi preconditioner. For differentiable solves, use `linearSolve` with the matching `solver`.
 * @module
 */
export { cg } from "./cg.js";
export { minres } from "./minres.js";
export { gmres } from "./gmres.js";
export { bicgstab } from "./bicgstab.js";
export { normalCg, lsqr } from "./leastSquares.js";
export { neumann, type NeumannOptions } from "./neumann.js";
export { jacobiPreconditioner } from "./jacobi.js";
export type { KrylovOptions, GmresOptions, LeastSquaresOptions, KrylovInfo, KrylovResult } from "./common.js";

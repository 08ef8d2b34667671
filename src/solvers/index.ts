/**
 * Solvers with one shape (`new Solver(options)`, `run`, `init`, `update`, `optimalityFun`), differentiable
 * implicitly by default; line searches; and the solvers' fixed points as standalone conditions.
 * @module
 */
export * from "./base.js";
export * from "./linesearch.js";
export * from "./conditions.js";
export * from "./gradient-descent.js";
export * from "./proximal-gradient.js";
export * from "./mirror-descent.js";
export * from "./block-coordinate-descent.js";

/**
 * Implicit differentiation: `customRoot`, `customFixedPoint`, the low-level `rootJvp`/`rootVjp`, optimality
 * conditions (`stationarity`, `kktOptimality`) and diagnostics.
 * @module
 */
export * from "./root.js";
export * from "./diagnostics.js";
export * from "./conditions.js";
export type { BackwardFactor } from "./backward-solver.js";

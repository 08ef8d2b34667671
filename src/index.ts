/**
 * diffopt: differentiable optimization in TypeScript.
 *
 * - {@link core}: float64 tensors, ops and a nesting autodiff engine (`grad`, `jvp`, `vjp`, `hessian`, custom rules).
 *
 * @example
 * ```ts
 * import { grad, tensor, sum, square } from "diffopt";
 * grad((x) => sum(square(x)))(tensor([1, 2, 3])).toArray(); // [2, 4, 6]
 * ```
 * @module
 */
export * from "./core/index.js";
export * as linalg from "./linalg/index.js";
export * as projection from "./projection/index.js";
export * as prox from "./prox/index.js";
export * as loss from "./loss/index.js";
export * as objective from "./objective/index.js";
export * from "./solvers/index.js";
export * as implicit from "./implicit/index.js";
export {
  customRoot,
  customFixedPoint,
  rootJvp,
  rootVjp,
  stationarity,
  kktOptimality,
  ImplicitDiffError,
  type ImplicitOptions,
  type ImplicitDiagnostics,
  type ImplicitPolicy,
} from "./implicit/index.js";

/**
 * diffopt: differentiable optimization in TypeScript.
 *
 * - The autodiff core (top-level names): float64 `Tensor`s with NumPy broadcasting, ops, pytrees (`tree`),
 *   seeded random numbers (`random`) and transforms that nest in any order: `grad`, `jvp`, `vjp`, `jacfwd`,
 *   `jacrev`, `hessian`, `hvp`, `linearize`, `stopGradient`, `customJvp`, `customVjp`.
 * - `linalg`: linear operators on pytrees, dense factorisations and Krylov solvers; `linalg.linearSolve` is
 *   differentiable in the operator and the right-hand side.
 * - Implicit differentiation (also as `implicit`): `customRoot`, `customFixedPoint`, `rootJvp`, `rootVjp`,
 *   `stationarity`, `kktOptimality`, with certified derivatives.
 * - The toolbox: solver classes (`GradientDescent`, `ProximalGradient`, `ProjectedGradient`, `MirrorDescent`,
 *   `BlockCoordinateDescent`), `projection`, `prox`, `loss` and `objective`.
 *
 * @example
 * ```ts
 * import { customRoot, grad, sub, mul, tensor } from "diffopt";
 * // x*(a) = √a as the root of x² − a, solved by any method; its derivative by the implicit function theorem
 * const sqrtOf = customRoot((x, a) => sub(mul(x, x), a))((_init, a) => tensor(Math.sqrt(a.item())));
 * grad((a) => sqrtOf(undefined, a))(tensor(4)).item(); // 0.25
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
  type ImplicitLayer,
  type SolverFn,
  type OptimalityFn,
  type BackwardFactor,
} from "./implicit/index.js";

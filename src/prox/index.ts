/**
 * Proximal operators in JAXopt's convention: `prox.g(x, hyperparams, scaling)` returns
 * prox_{scaling·g}(x) = argmin_y ½‖y − x‖² + scaling·g(y, hyperparams).
 * Each is a closed form written with differentiable ops, so its Jacobian (in x and in the hyperparameters)
 * is exact, e.g. diag(1[|x| > λs]) for the lasso.
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * prox.lasso(tensor([-2, 0.5, 3]), 1).toArray(); // [-1, 0, 2]
 * ```
 *
 * Every operator also accepts a pytree of tensors (nested arrays and plain objects, as JAXopt's tuples and dicts)
 * and applies to each leaf: the prox of the separable sum Σᵢ g(xᵢ, hᵢ), with hyperparameters shared by every leaf
 * or given per leaf as a pytree of the same structure.
 *
 * @example
 * ```ts
 * import { prox, tensor } from "diffopt";
 * const out = prox.lasso({ w: tensor([-2, 0.5]), b: tensor(3) }, { w: 1, b: 2 });
 * console.log(out.w.toArray(), out.b.item()); // [-1, 0] 1
 * ```
 * @module
 */
import { leafwise } from "../projection/pytree.js";
import * as ops from "./operators.js";

/** @function */
export const none = leafwise(ops.none);
/** @function */
export const lasso = leafwise(ops.lasso);
/** @function */
export const nonNegativeLasso = leafwise(ops.nonNegativeLasso);
/** @function */
export const elasticNet = leafwise(ops.elasticNet);
/** @function */
export const groupLasso = leafwise(ops.groupLasso);
/** @function */
export const ridge = leafwise(ops.ridge);
/** @function */
export const nonNegativeRidge = leafwise(ops.nonNegativeRidge);
export { fromProjection, type ProxFn } from "./operators.js";

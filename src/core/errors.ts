/**
 * Typed errors raised by diffopt. Every message names the operation, the argument and the problem, so that a
 * failure deep inside a derivative can be traced back to the call that caused it.
 *
 * @module
 */

/**
 * Base class of every error diffopt throws on purpose.
 *
 * @example
 * ```ts
 * import { tensor, add, DiffoptError } from "diffopt";
 * try { add(tensor([1, 2]), tensor([1, 2, 3])); } catch (e) { console.log(e instanceof DiffoptError); } // true
 * ```
 */
export class DiffoptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Shapes that do not fit: broadcasting failures, wrong ranks, mismatched inner dimensions.
 *
 * @example
 * ```ts
 * import { tensor, matmul, ShapeError } from "diffopt";
 * try { matmul(tensor([[1, 2]]), tensor([[1, 2]])); } catch (e) { console.log(e instanceof ShapeError); } // true
 * ```
 */
export class ShapeError extends DiffoptError {}

/**
 * Two pytrees that should have the same structure do not (e.g. tangents vs primals in `jvp`).
 *
 * @example
 * ```ts
 * import { jvp, tensor, TreeMismatchError } from "diffopt";
 * // TypeScript rejects these tangents already; without types (JavaScript, `any`) the check happens at run time
 * // @ts-expect-error -- the tangents [[tensor]] do not match the structure of the primals [tensor]
 * try { jvp((x) => x, [tensor(1)], [[tensor(1)]]); } catch (e) { console.log(e instanceof TreeMismatchError); } // true
 * ```
 */
export class TreeMismatchError extends DiffoptError {}

/**
 * `grad` (or `valueAndGrad`) was asked to differentiate a function whose output is not a scalar.
 *
 * @example
 * ```ts
 * import { grad, tensor, NonScalarOutputError } from "diffopt";
 * try { grad((x) => x)(tensor([1, 2])); } catch (e) { console.log(e instanceof NonScalarOutputError); } // true
 * ```
 */
export class NonScalarOutputError extends DiffoptError {}

/**
 * A value that must be finite is NaN or infinite, or an argument is outside the domain an operation accepts.
 *
 * @example
 * ```ts
 * import { tensor, checkFinite, NonFiniteError } from "diffopt";
 * try { checkFinite(tensor([1, NaN]), "x"); } catch (e) { console.log(e instanceof NonFiniteError); } // true
 * ```
 */
export class NonFiniteError extends DiffoptError {}

/**
 * An argument has the wrong type or an invalid value (a negative axis out of range, an unknown option…).
 *
 * @example
 * ```ts
 * import { tensor, sum, ValueError } from "diffopt";
 * try { sum(tensor([1, 2]), { axis: 3 }); } catch (e) { console.log(e instanceof ValueError); } // true
 * ```
 */
export class ValueError extends DiffoptError {}

/**
 * A transform was used in a way that cannot give a correct derivative (e.g. a custom rule that is not
 * differentiable where a higher derivative needs it).
 *
 * @example
 * ```ts
 * import { DifferentiationError } from "diffopt";
 * console.log(new DifferentiationError("customVjp: bwd is not differentiable").name); // "DifferentiationError"
 * ```
 */
export class DifferentiationError extends DiffoptError {}

/**
 * A function was applied under `vmap` in a way that cannot be batched: typically it reads the plain numbers of a
 * batched tensor (`item()`, `toArray()`, `data`), which hold the whole batch rather than one element.
 *
 * @example
 * ```ts
 * import { vmap, tensor, BatchingError } from "diffopt";
 * try { vmap((x) => x.item())(tensor([1, 2])); } catch (e) { console.log(e instanceof BatchingError); } // true
 * ```
 */
export class BatchingError extends DiffoptError {}

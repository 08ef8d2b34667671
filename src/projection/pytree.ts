/**
 * Projections and proximal operators on pytrees, leaf by leaf (as JAXopt's `tree_map` over tuples and dicts): one
 * wrapper turns an operator on tensors into one that also accepts a pytree of tensors, whose hyperparameters are
 * either shared by every leaf or given per leaf as a pytree of the same structure. On a pytree, a projection is
 * then the projection onto the product of the leaves' sets, and a prox that of the separable sum Σᵢ g(xᵢ, hᵢ).
 * Tensors (and nested arrays of numbers, which are tensor literals) go straight to the operator, unchanged.
 * @module
 */
import { Tensor, type TensorLike } from "../core/tensor.js";
import { flatten, sameStructure, unflatten, type Tree, type TreeDef } from "../core/tree.js";

/** True for a pytree with structure: a plain object, or an array that holds a tensor, an object or such an array. */
function isPytree(x: unknown): boolean {
  if (x === null || typeof x !== "object" || x instanceof Tensor) return false;
  if (Array.isArray(x)) return x.some((c) => c instanceof Tensor || isPytree(c));
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** The leaves of `h` when it has the structure `def` (one hyperparameter per leaf of x), else null (shared). */
function perLeaf(h: unknown, def: TreeDef, count: number): Tensor[] | null {
  if (h === null || typeof h !== "object" || h instanceof Tensor) return null;
  try {
    const [leaves, hDef] = flatten(h as Tree);
    return leaves.length === count && sameStructure(hDef, def) ? leaves : null;
  } catch {
    // not a pytree (an options object with strings or booleans, say): shared by every leaf
    return null;
  }
}

/** An operator on tensors that also accepts pytrees of tensors, leaf by leaf. */
export type Leafwise<F> = F &
  /**
   * The operator applied to each leaf of a pytree x (nested arrays and plain objects of tensors); each
   * hyperparameter is shared by every leaf, or given per leaf as a pytree with the structure of x.
   */
  // `any` in user callbacks: users annotate their own parameter types, and a `(x: Tensor) => …` is not assignable to a `(x: Tree) => …`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (<T extends Tree>(x: T, ...hyperparams: any[]) => T);

/**
 * @internal Extends an operator `op(x, ...hyperparams)` on tensors to pytrees of tensors: for a pytree x, `op` is
 * applied to each leaf, with each hyperparameter either shared (a number, a tensor, an options object) or, when it
 * has the structure of x, taken leaf by leaf. Derivatives flow through `op` as usual.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function leafwise<F extends (x: TensorLike, ...hyperparams: any[]) => Tensor>(op: F): Leafwise<F> {
  const wrapped = (x: unknown, ...hyperparams: unknown[]) => {
    if (!isPytree(x)) return op(x as TensorLike, ...hyperparams);
    const [leaves, def] = flatten(x as Tree);
    const split = hyperparams.map((h) => perLeaf(h, def, leaves.length));
    const out = leaves.map((leaf, i) => op(leaf, ...hyperparams.map((h, j) => split[j]?.[i] ?? h)));
    return unflatten(def, out);
  };
  return wrapped as unknown as Leafwise<F>;
}

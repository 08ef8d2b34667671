/**
 * Runtime checks on tensor values.
 * @module
 */
import { NonFiniteError } from "./errors.js";
import { stridesOf } from "./shape.js";
import { asTensor, type Tensor, type TensorLike } from "./tensor.js";

/**
 * Returns `x` (as a tensor, unchanged, derivatives included) if every entry is finite; otherwise throws a
 * `NonFiniteError` naming the argument, the number of non-finite entries, and the value and position of the
 * first one. Cost: one pass over the values.
 *
 * @example
 * ```ts
 * import { checkFinite, tensor } from "diffopt";
 * checkFinite(tensor([1, 2]), "theta");  // returns the tensor
 * checkFinite(tensor([[1, 2], [NaN, Infinity]]), "theta");
 * // NonFiniteError: checkFinite: argument "theta" (shape [2, 2]) has 2 non-finite entries; the first is NaN at index [1, 0]
 * ```
 */
export function checkFinite(x: TensorLike, name: string): Tensor {
  const t = asTensor(x);
  const d = t.raw;
  let first = -1;
  let count = 0;
  for (let k = 0; k < d.length; k++) {
    // v - v is 0 for finite v and NaN for ±Infinity and NaN.
    const v = d[k]!;
    if (v - v !== 0) {
      if (first < 0) first = k;
      count++;
    }
  }
  if (first < 0) return t;
  const strides = stridesOf(t.shape);
  const position = strides.map((s, i) => Math.floor(first / s) % t.shape[i]!);
  throw new NonFiniteError(
    `checkFinite: argument "${name}" (shape [${t.shape.join(", ")}]) has ${count} non-finite ${count === 1 ? "entry" : "entries"}; ` +
      `the first is ${d[first]} at index [${position.join(", ")}]`,
  );
}

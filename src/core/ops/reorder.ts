/**
 * Elements reordered along axes: `flip` and `roll`. Each axis is one gather (`take` with a permutation of
 * 0..n−1), so the derivative is the scatter of the same permutation and `vmap` batches it.
 * @module
 */
import { ValueError } from "../errors.js";
import { normalizeAxes, normalizeAxis } from "../shape.js";
import { Tensor, asTensorArg, describeValue, type TensorLike } from "../tensor.js";
import { take } from "./indexing.js";
import { reshape } from "./shape.js";

/** `x` with the entries along `axis` taken in the order `index(i)`, i = 0..n−1. */
function permuteAxis(x: Tensor, axis: number, index: (i: number, n: number) => number): Tensor {
  const n = x.shape[axis]!;
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = index(i, n);
  return take(x, perm, axis);
}

/**
 * Reverses the order of the elements along `axis` (an axis or a list of axes; all axes when omitted), NumPy's
 * `flip`.
 * @example
 * ```ts
 * import { flip, tensor } from "diffopt";
 * const x = tensor([[1, 2], [3, 4]]);
 * flip(x).toArray();                // [[4, 3], [2, 1]]
 * flip(x, 1).toArray();             // [[2, 1], [4, 3]]
 * ```
 */
export function flip(x: TensorLike, axis?: number | readonly number[]): Tensor {
  let t = asTensorArg(x, "flip", "x");
  for (const a of normalizeAxes(axis, t.ndim, "flip")) t = permuteAxis(t, a, (i, n) => n - 1 - i);
  return t;
}

/**
 * Rolls the elements along `axis` by `shift` places (those pushed off the end come back at the start), NumPy's
 * `roll`. Without `axis` the tensor is rolled as if flattened, then given back its shape; with a list of axes,
 * `shift` is one number for all or a list of the same length (shifts of a repeated axis add up).
 * @example
 * ```ts
 * import { roll, tensor } from "diffopt";
 * roll(tensor([1, 2, 3, 4]), 1).toArray();                  // [4, 1, 2, 3]
 * roll(tensor([[1, 2], [3, 4]]), -1, 1).toArray();          // [[2, 1], [4, 3]]
 * roll(tensor([[1, 2], [3, 4]]), 1).toArray();              // [[4, 1], [2, 3]]
 * ```
 */
export function roll(x: TensorLike, shift: number | readonly number[], axis?: number | readonly number[]): Tensor {
  const t = asTensorArg(x, "roll", "x");
  const shifts = typeof shift === "number" ? [shift] : [...shift];
  for (const s of shifts) {
    if (!Number.isSafeInteger(s)) throw new ValueError(`roll: shift must be an integer, got ${describeValue(s)}`);
  }
  if (axis === undefined) {
    if (shifts.length !== 1) {
      throw new ValueError(`roll: without axis, shift must be one integer, got ${shifts.length} of them`);
    }
    return reshape(rollAxis(reshape(t, [t.size]), 0, shifts[0]!), t.shape);
  }
  const axes = typeof axis === "number" ? [axis] : [...axis];
  if (shifts.length !== 1 && shifts.length !== axes.length) {
    throw new ValueError(
      `roll: shift has ${shifts.length} entries but axis has ${axes.length}; give one shift, or one per axis`,
    );
  }
  const total = new Map<number, number>();
  axes.forEach((a, i) => {
    const ax = normalizeAxis(a, t.ndim, "roll");
    total.set(ax, (total.get(ax) ?? 0) + shifts[shifts.length === 1 ? 0 : i]!);
  });
  let out = t;
  for (const [ax, s] of total) out = rollAxis(out, ax, s);
  return out;
}

function rollAxis(x: Tensor, axis: number, shift: number): Tensor {
  const n = x.shape[axis]!;
  if (n === 0) return x;
  const k = ((shift % n) + n) % n;
  if (k === 0) return x;
  return permuteAxis(x, axis, (i) => (i - k + n) % n);
}

/**
 * Runtime checks on tensor values.
 * @module
 */
import { NonFiniteError, ShapeError, TreeMismatchError, ValueError } from "./errors.js";
import { stridesOf } from "./shape.js";
import { asTensor, baseValues, type Tensor, type TensorLike } from "./tensor.js";

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
  // Under vmap, the values of the whole batch: finite exactly when every element's are.
  const base = baseValues(t);
  const d = base.raw;
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
  const strides = stridesOf(base.shape);
  const position = strides.map((s, i) => Math.floor(first / s) % base.shape[i]!);
  const batched = base.shape.length !== t.shape.length ? " (under vmap: shape and index include the batch axes)" : "";
  throw new NonFiniteError(
    `checkFinite: argument "${name}"${batched} (shape [${base.shape.join(", ")}]) has ${count} non-finite ${count === 1 ? "entry" : "entries"}; ` +
      `the first is ${d[first]} at index [${position.join(", ")}]`,
  );
}

/** Errors re-raised by {@link atBoundary}: plain message-only classes, so a copy loses nothing. */
const RENAMED = new Set<unknown>([ShapeError, TreeMismatchError, ValueError]);

/**
 * @internal Runs `fn`, the body of the public function `who`, so that a `ShapeError`, `TreeMismatchError` or
 * `ValueError` raised deep inside it (by an op, a pytree helper or a user's function) names `who` first, with the
 * original message after it: the error then points at the call the user made, not at an internal helper.
 */
export function atBoundary<T>(who: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof Error) || !RENAMED.has(e.constructor) || e.message.startsWith(`${who}:`)) throw e;
    const Renamed = e.constructor as new (message: string) => Error;
    const out = new Renamed(`${who}: ${e.message}`);
    out.stack = `${out.name}: ${out.message}\n${(e.stack ?? "").split("\n").slice(1).join("\n")}`;
    throw out;
  }
}

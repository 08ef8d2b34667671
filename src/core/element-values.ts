/**
 * The values of each `vmap` batch element of a tensor, for the argument checks of library functions.
 *
 * A check such as "every entry is finite" or "lower ≤ upper" reads numbers, which a tensor batched by `vmap` does
 * not give (its values are the whole batch, laid out with the batch axes wherever `vmap` put them, possibly under
 * derivative tracers). This reads the concrete values under every level, moves the batch axes of all enclosing
 * `vmap`s to the front, and hands the checker one element's values at a time, in the element's own row-major
 * layout — so the check, and the flat index in its message, are those of the unbatched call.
 * @module
 */
import { Tensor, TraceKind } from "./tensor.js";

/**
 * @internal Calls `check(values, element)` once per batch element of `t` (once, with element −1, when `t` is not
 * batched): `values` are one element's entries, row-major in `t.shape`. Never use it to compute a result: the
 * values carry no derivative.
 */
export function forEachElement(t: Tensor, check: (values: Float64Array, element: number) => void): void {
  // Track where each logical axis and each batch axis sits, level by level, down to the concrete value.
  let axes = t.shape.map((_, i) => i);
  let batch: number[] = [];
  let u = t;
  while (u.level > 0) {
    if (u.kind === TraceKind.Batch) {
      const d = u.outIndex;
      const shift = (a: number) => (a >= d ? a + 1 : a);
      axes = axes.map(shift);
      batch = [d, ...batch.map(shift)];
    }
    u = u.primal!;
  }
  if (batch.length === 0) {
    check(u.raw, -1);
    return;
  }
  const src = u.raw;
  const shape = u.shape;
  const strides = new Array<number>(shape.length);
  for (let i = shape.length - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  // Batch axes outermost (the outermost vmap first), then the element's axes in order.
  const order = [...batch, ...axes];
  const dims = order.map((a) => shape[a]!);
  const steps = order.map((a) => strides[a]!);
  const per = t.size;
  const count = dims.slice(0, batch.length).reduce((a, b) => a * b, 1);
  const values = new Float64Array(per);
  const index = new Array<number>(order.length).fill(0);
  let offset = 0;
  for (let e = 0; e < count; e++) {
    for (let k = 0; k < per; k++) {
      values[k] = src[offset]!;
      // Advance the multi-index (the last axis fastest), keeping the source offset in step.
      for (let a = order.length - 1; a >= 0; a--) {
        index[a]!++;
        offset += steps[a]!;
        if (index[a]! < dims[a]!) break;
        offset -= steps[a]! * dims[a]!;
        index[a] = 0;
      }
    }
    check(values, e);
  }
}

/** @internal " (vmap batch element k)" for a batched check's message, "" otherwise. */
export function elementNote(element: number): string {
  return element < 0 ? "" : ` (vmap batch element ${element})`;
}

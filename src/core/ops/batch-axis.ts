/**
 * Batch-axis moves shared by the batching rules of the ops (`gather`, `matmul`, `band`, the ordering ops…).
 *
 * A batching rule receives each argument's batched value with its batch axis (or null when the argument is not
 * batched). Most rules first bring the batch axis to the front, where it becomes one more leading axis the
 * primitive already handles; this module does that move, and broadcasts an unbatched argument when the rule
 * needs every argument batched.
 * @module
 */
import { Tensor } from "../tensor.js";
import { broadcastTo } from "./broadcast.js";
import { expandDims, moveAxis } from "./shape.js";

/**
 * @internal `x` with its batch axis moved from `from` to `to`; when `from` is null (`x` not batched), `x`
 * broadcast along a new batch axis of length `size` at `to`.
 */
export function moveBatchAxis(x: Tensor, from: number | null, to: number, size: number): Tensor {
  if (from === null) {
    const shape = [...x.shape];
    shape.splice(to, 0, size);
    return broadcastTo(expandDims(x, to), shape);
  }
  return from === to ? x : moveAxis(x, from, to);
}

/** @internal The axis of a batched value holding logical axis `axis` when the batch sits at `bdim`. */
export function valueAxis(axis: number, bdim: number): number {
  return axis < bdim ? axis : axis + 1;
}

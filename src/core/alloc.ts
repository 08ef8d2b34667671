/**
 * @internal Fast allocation of small zero-filled Float64Arrays.
 *
 * V8 keeps a typed array's storage on its own heap only up to 64 bytes (8 doubles); a larger array gets a separate
 * backing store, which costs on the order of a microsecond — far more than the arithmetic of a small op. Arrays of
 * 9 to {@link POOLED_MAX} doubles are therefore carved out of a shared 8 KiB slab by bumping an offset (the scheme
 * Node uses for small Buffers). Slots are never reused, so every array starts zero-filled; a slab is freed when
 * the last array viewing it is. The cost: one live small array keeps its slab (at most 8 KiB) alive.
 *
 * A slab is shared by unrelated tensors, so it must never be detached (transferred to a worker, or by
 * `ArrayBuffer.prototype.transfer`): that would empty all of them. The library's kernels read a tensor's values
 * through its internal `raw` field; the public `Tensor.data` hands out an array owning its whole buffer (a copy,
 * made once, of a slab view; see {@link ownsBuffer}), so no user code can reach a slab.
 * @module
 */

/** Largest length served from the slab; 64 doubles = 512 bytes, 1/16 of a slab. */
const POOLED_MAX = 64;
const SLAB_DOUBLES = 1024;

let slab = new ArrayBuffer(SLAB_DOUBLES * 8);
let offset = 0;

/** A zero-filled Float64Array of length `n` (a view on a shared slab when 8 < n ≤ 64). */
export function allocFloat64(n: number): Float64Array {
  if (n <= 8 || n > POOLED_MAX) return new Float64Array(n);
  if (offset + n > SLAB_DOUBLES) {
    slab = new ArrayBuffer(SLAB_DOUBLES * 8);
    offset = 0;
  }
  const out = new Float64Array(slab, offset * 8, n);
  offset += n;
  return out;
}

/**
 * True when `a` views the whole of its buffer, so that transferring `a.buffer` can empty nothing but `a` (and the
 * arrays sharing `a` itself). False for slab views and other partial views.
 */
export function ownsBuffer(a: Float64Array): boolean {
  return a.byteOffset === 0 && a.buffer.byteLength === a.byteLength;
}

/**
 * @internal Fast allocation of small and medium zero-filled Float64Arrays.
 *
 * V8 keeps a typed array's storage on its own heap only up to 64 bytes (8 doubles); a larger array gets a separate
 * backing store, which costs 1–2 µs beyond zeroing it (measured on this project's 2-core machine: a fresh array
 * plus one pass over it took 2.0 µs at 100 doubles and 6.8 µs at 1000, against 0.8 µs and 2.3 µs for a view
 * carved from a larger buffer) — more than the arithmetic of an op on a few hundred doubles, so it dominated the
 * traced path on medium tensors. Arrays of 9 to {@link MEDIUM_MAX} doubles are therefore carved out of shared
 * slabs by bumping an offset (the scheme Node uses for small Buffers), in two tiers so that a small array never
 * pins a large slab: up to {@link SMALL_MAX} doubles from 8 KiB slabs, up to {@link MEDIUM_MAX} from 64 KiB ones.
 * Slots are never reused, so every array starts zero-filled; a slab is freed when the last array viewing it is.
 *
 * The memory trade-off: one live array keeps its whole slab alive — at most 8 KiB for an array of ≤ 64 doubles
 * (≤ 512 B), at most 64 KiB for one of 65–1024 doubles (0.5–8 KiB), i.e. at worst 8 to 126 times its own size
 * when every other array of its slab has died. Temporaries die together with their slab, so this bites only a
 * program that keeps scattered medium tensors alive one per slab. From 1025 doubles (8 KiB) the backing store
 * is a small part of the op's own cost (zeroing and one pass over 8 KiB), and arrays get their own.
 *
 * A slab is shared by unrelated tensors, so it must never be detached (transferred to a worker, or by
 * `ArrayBuffer.prototype.transfer`): that would empty all of them. The library's kernels read a tensor's values
 * through its internal `raw` field; the public `Tensor.data` hands out an array owning its whole buffer (a copy,
 * made once, of a slab view; see {@link ownsBuffer}), so no user code can reach a slab.
 * @module
 */

/** Largest length served from the small slabs; 64 doubles = 512 bytes, 1/16 of a slab. */
const SMALL_MAX = 64;
const SMALL_SLAB = 1024;
/** Largest length served from the medium slabs; 1024 doubles = 8 KiB, 1/8 of a slab. */
const MEDIUM_MAX = 1024;
const MEDIUM_SLAB = 8192;

/** A bump allocator over slabs of `size` doubles. */
class Slabs {
  private slab: ArrayBuffer;
  private offset = 0;
  constructor(private readonly size: number) {
    this.slab = new ArrayBuffer(size * 8);
  }
  take(n: number): Float64Array {
    if (this.offset + n > this.size) {
      this.slab = new ArrayBuffer(this.size * 8);
      this.offset = 0;
    }
    const out = new Float64Array(this.slab, this.offset * 8, n);
    this.offset += n;
    return out;
  }
}

const small = new Slabs(SMALL_SLAB);
const medium = new Slabs(MEDIUM_SLAB);

/** A zero-filled Float64Array of length `n` (a view on a shared slab when 8 < n ≤ 1024). */
export function allocFloat64(n: number): Float64Array {
  if (n <= 8 || n > MEDIUM_MAX) return new Float64Array(n);
  return n <= SMALL_MAX ? small.take(n) : medium.take(n);
}

/**
 * True when `a` views the whole of its buffer, so that transferring `a.buffer` can empty nothing but `a` (and the
 * arrays sharing `a` itself). False for slab views and other partial views.
 */
export function ownsBuffer(a: Float64Array): boolean {
  return a.byteOffset === 0 && a.buffer.byteLength === a.byteLength;
}

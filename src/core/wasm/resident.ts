/**
 * Matrices kept resident in a WebAssembly module's memory across calls.
 *
 * Why: a matrix–vector product reads each entry of its matrix once, so copying the matrix into the module's
 * memory costs about as much as the product itself (2 MiB per call for a 512×512 matrix). A loop that multiplies
 * by the same matrix again and again — a deep-equilibrium layer's 200 forward iterations, the transposed products
 * of its backward pass, an unrolled solver — pays that copy every time. Here the copy made by the first calls is
 * kept and reused while the matrix cannot have changed.
 *
 * ## When a copy is valid
 * A copy is keyed by the *tensor* whose values the matrix is (its `source`), not by the Float64Array: internal
 * code wraps reused scratch arrays in fresh tensors (the perturbed points of `checkGrads`, the block vectors of
 * the batched implicit backward, solver workspaces), so an array's identity says nothing about its contents. A
 * tensor's values never change after it is made — the one exception is the backward pass's own cotangent sums,
 * which it adds into in place while no one else can see them (`engine.ts`), and which it {@link
 * ResidentMatrices.forget}s before each write. Only the matrix products of the `matmul` primitive pass a source
 * (their operands are tensors); every other caller of the kernels (the blocked LU and Cholesky updates, which
 * work in place on their own arrays) passes none and gets no caching. A hit also requires the tensor's values to
 * be the very array that was copied, with the same offset and layout, so a tensor whose `raw` was replaced (the
 * first public read of `data` swaps a slab view for an owned copy) or detached (a transferred `data` buffer) is
 * copied afresh.
 *
 * Users' arrays: `tensor()` copies what it is given, and `Tensor.data` is documented as never to be written (the
 * tape's saved primals and an implicit layer's reuse of its last solve rely on the same rule).
 *
 * ## Admission and eviction
 * A matrix is kept from its second use (a matrix used once, such as a temporary of a solver step, is copied to
 * the per-call scratch as before, and never displaces one in use). Copies live in the first {@link
 * RESIDENT_BUDGET} doubles of the memory, placed first-fit and evicted least recently used first; a matrix larger
 * than half the budget is never kept. Per-call operands go above the highest kept copy ({@link
 * ResidentMatrices.top}). The memory is grown by whole pages, only as far as needed, and never shrinks: at most
 * the budget (16 MiB) plus the largest call's operands.
 *
 * @module
 */

/** Doubles of module memory that kept matrices may occupy: 2²¹ doubles = 16 MiB. */
export const RESIDENT_BUDGET = 1 << 21;

/** Views remembered per source tensor (the matrices of a batch are views at different offsets). */
const MAX_VIEWS = 8;

/**
 * A kept copy: doubles [start, start + length) of the memory. `evict`, when set, runs before the region is given
 * up to another (it copies back values that are newer here than in their array).
 */
export interface Region {
  readonly start: number;
  readonly length: number;
  lastUse: number;
  live: boolean;
  evict?: () => void;
}

/** What is known about one matrix view of a source tensor: seen once (region null), or kept. */
interface Entry {
  readonly raw: Float64Array;
  readonly offset: number;
  readonly rows: number;
  readonly cols: number;
  readonly ld: number;
  region: Region | null;
}

/** @internal The kept matrices of one module's memory (see the module comment). */
export class ResidentMatrices {
  /** Kept copies, sorted by start. */
  private readonly regions: Region[] = [];
  private readonly entries = new WeakMap<object, Entry[]>();
  private clock = 0;

  constructor(private readonly budget: number = RESIDENT_BUDGET) {}

  /** First double above every kept copy: where per-call operands may go. Even, so 16-byte aligned. */
  get top(): number {
    const last = this.regions[this.regions.length - 1];
    return last === undefined ? 0 : (last.start + last.length + 1) & ~1;
  }

  /**
   * Where the rows×cols matrix A[i][j] = raw[offset + i·ld + j] of `source` is kept (its first double, rows packed
   * contiguously), reserving a place for it when this is its second use; `copy` tells whether the caller must copy
   * it there now (a new place). Null when it is not kept: the caller copies it to the per-call scratch.
   */
  place(
    source: object,
    raw: Float64Array,
    offset: number,
    rows: number,
    cols: number,
    ld: number,
  ): { start: number; copy: boolean } | null {
    const size = rows * cols;
    // A detached buffer (a transferred `data`) reads as empty: never serve the copy of what it held.
    if (size > this.budget / 2 || raw.length < offset + (rows - 1) * ld + cols) return null;
    let list = this.entries.get(source);
    if (list === undefined) {
      list = [];
      this.entries.set(source, list);
    }
    let entry: Entry | undefined;
    for (const e of list) {
      if (e.offset === offset && e.rows === rows && e.cols === cols && e.ld === ld) entry = e;
    }
    if (entry === undefined || entry.raw !== raw) {
      // First use of this view (or of new values behind it): remember it, keep nothing yet.
      if (entry !== undefined) this.releaseEntry(list, entry);
      else if (list.length === MAX_VIEWS) this.releaseEntry(list, list[0]!);
      list.push({ raw, offset, rows, cols, ld, region: null });
      return null;
    }
    const region = entry.region;
    if (region !== null && region.live) {
      region.lastUse = ++this.clock;
      return { start: region.start, copy: false };
    }
    entry.region = this.allocate(size);
    return { start: entry.region.start, copy: true };
  }

  /**
   * A region of `size` doubles for the caller's own use (the backward pass's sum being accumulated, see `gemv.ts`),
   * or null when `size` exceeds half the budget. Like a kept copy it may be evicted, least recently used first:
   * `evict` runs then. Give it back with {@link ResidentMatrices.release}.
   */
  reserve(size: number, evict: () => void): Region | null {
    if (size > this.budget / 2) return null;
    const region = this.allocate(size);
    region.evict = evict;
    return region;
  }

  /** Marks a reserved region used now (for eviction order). */
  touch(region: Region): void {
    region.lastUse = ++this.clock;
  }

  /** Gives back a region from {@link ResidentMatrices.reserve}. */
  release(region: Region): void {
    this.free(region);
  }

  /** Drops every copy of `source`'s values: the caller is about to write them. */
  forget(source: object): void {
    const list = this.entries.get(source);
    if (list === undefined) return;
    for (const e of list) if (e.region !== null) this.free(e.region);
    this.entries.delete(source);
  }

  private releaseEntry(list: Entry[], entry: Entry): void {
    if (entry.region !== null) this.free(entry.region);
    list.splice(list.indexOf(entry), 1);
  }

  private free(region: Region): void {
    if (!region.live) return;
    region.live = false;
    this.regions.splice(this.regions.indexOf(region), 1);
  }

  /** A region of `size` doubles inside the budget, evicting the least recently used copies until one fits. */
  private allocate(size: number): Region {
    for (;;) {
      let start = 0;
      let at = 0;
      for (; at < this.regions.length; at++) {
        const r = this.regions[at]!;
        if (r.start - start >= size) break;
        start = (r.start + r.length + 1) & ~1;
      }
      if (at < this.regions.length || start + size <= this.budget) {
        const region: Region = { start, length: size, lastUse: ++this.clock, live: true };
        this.regions.splice(at, 0, region);
        return region;
      }
      let oldest = this.regions[0]!;
      for (const r of this.regions) if (r.lastUse < oldest.lastUse) oldest = r;
      oldest.evict?.();
      this.free(oldest);
    }
  }
}

/**
 * Matrix–vector products and rank-1 updates on WebAssembly SIMD.
 *
 * Why: a matrix–vector product reads each entry of the matrix once for two flops, so it is bound by memory
 * traffic; the TypeScript loops run at about 0.5 GF/s on it, and the f64x2 kernels of `gemv.wat` (four rows of
 * the matrix per pass) several times faster, even counting the copy of the matrix into the kernel's memory,
 * which is one `memcpy` when its rows are contiguous. A matrix multiplied again and again (the weight of an
 * unrolled or fixed-point loop) stays in the kernel's memory between calls instead (`resident.ts`). The
 * TypeScript kernels in `ops/matmul.ts` remain the fallback and the test oracle.
 *
 * @module
 */
import { GEMV_WASM } from "./gemv-module.js";
import { ResidentMatrices, type Region } from "./resident.js";
import { heapOf, lazyModule, type WasmMemory } from "./runtime.js";

interface GemvExports {
  memory: WasmMemory;
  gemv_n(pa: number, px: number, py: number, m: number, n: number): void;
  gemv_t(pa: number, px: number, py: number, m: number, n: number): void;
  ger(pa: number, px: number, py: number, m: number, n: number): void;
}

const gemvModule = lazyModule<GemvExports>(GEMV_WASM);

/** The matrices kept in the module's memory across calls (see `resident.ts`). */
const resident = new ResidentMatrices();

/**
 * @internal Drops the kept copies of `source`'s values before they are written in place (the backward pass's
 * own cotangent sums; see `engine.ts`).
 */
export function forgetResident(source: object): void {
  resident.forget(source);
}

/**
 * With A the rows×cols matrix A[i][j] = a[aOff + i·lda + j]: c[cOff + i·ldc] += alpha·(A·x)ᵢ, or with
 * `transposed` c[cOff + j·ldc] += alpha·(Aᵀ·x)ⱼ, where x[t] = b[bOff + t·bStride]. `source`, when given, is the
 * tensor whose values `a` are: A is then kept in the module's memory from its second use, and not copied again
 * while it stays there (`resident.ts`). Returns false (having done nothing) when the WebAssembly backend is off
 * or unavailable.
 * @internal
 */
export function wasmGemv(
  transposed: boolean,
  rows: number,
  cols: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  lda: number,
  b: Float64Array,
  bOff: number,
  bStride: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
  source: object | null = null,
): boolean {
  const mod = gemvModule();
  if (mod === null) return false;
  const xLen = transposed ? rows : cols;
  const yLen = transposed ? cols : rows;
  const aLen = rows * cols;
  const kept = source === null ? null : resident.place(source, a, aOff, rows, cols, lda);
  const top = resident.top;
  const pa = kept === null ? top : kept.start;
  const px = kept === null ? top + aLen : top;
  const py = px + xLen;
  const heap = heapOf(mod.memory, py + yLen);
  if (kept === null || kept.copy) {
    if (lda === cols) heap.set(a.subarray(aOff, aOff + aLen), pa);
    else for (let i = 0; i < rows; i++) heap.set(a.subarray(aOff + i * lda, aOff + i * lda + cols), pa + i * cols);
  }
  if (bStride === 1) heap.set(b.subarray(bOff, bOff + xLen), px);
  else for (let t = 0; t < xLen; t++) heap[px + t] = b[bOff + t * bStride]!;
  if (transposed) {
    heap.fill(0, py, py + yLen);
    mod.gemv_t(pa * 8, px * 8, py * 8, rows, cols);
  } else {
    mod.gemv_n(pa * 8, px * 8, py * 8, rows, cols);
  }
  if (alpha === 1) for (let t = 0; t < yLen; t++) c[cOff + t * ldc] += heap[py + t]!;
  else for (let t = 0; t < yLen; t++) c[cOff + t * ldc] += alpha * heap[py + t]!;
  return true;
}

/**
 * Matrix–vector products from at least this many entries of the matrix run on the WebAssembly kernels: below it
 * the call and the copies cost as much as the TypeScript loop (measured even at 16×16, ~3× faster at 32×32).
 */
const WASM_MIN_ENTRIES = 1024;

/**
 * C += alpha · op(A) · op(B) on the strided views of `gemmStrided` (ops/matmul.ts) when the product is a
 * matrix–vector product (n = 1, or m = 1) whose matrix has contiguous rows or columns, or an outer product
 * (k = 1), by the WebAssembly kernels. `aSource`/`bSource`, when given, are the tensors whose values `a`/`b` are
 * (see {@link wasmGemv}); `accumulate` says that C is a sum owned by the backward pass (see `wasmGer`). Returns false (having done nothing) for other products, small ones, or when the WebAssembly backend is
 * off or unavailable.
 * @internal
 */
export function wasmMatvec(
  m: number,
  k: number,
  n: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aRow: number,
  aCol: number,
  b: Float64Array,
  bOff: number,
  bRow: number,
  bCol: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
  aSource: object | null = null,
  bSource: object | null = null,
  accumulate = false,
): boolean {
  if (n === 1 && m * k >= WASM_MIN_ENTRIES) {
    // op(A) with contiguous rows (A·x), or the transpose of a matrix with contiguous rows (Aᵀ·x).
    if (aCol === 1) return wasmGemv(false, m, k, alpha, a, aOff, aRow, b, bOff, bRow, c, cOff, ldc, aSource);
    if (aRow === 1) return wasmGemv(true, k, m, alpha, a, aOff, aCol, b, bOff, bRow, c, cOff, ldc, aSource);
  } else if (m === 1 && k * n >= WASM_MIN_ENTRIES) {
    // A row vector times op(B): (op(B)ᵀ·aᵀ)ᵀ.
    if (bCol === 1) return wasmGemv(true, k, n, alpha, b, bOff, bRow, a, aOff, aCol, c, cOff, 1, bSource);
    if (bRow === 1) return wasmGemv(false, n, k, alpha, b, bOff, bCol, a, aOff, aCol, c, cOff, 1, bSource);
  } else if (k === 1 && m * n >= WASM_MIN_ENTRIES) {
    return wasmGer(m, n, alpha, a, aOff, aRow, b, bOff, bCol, c, cOff, ldc, accumulate);
  }
  return false;
}

/**
 * The backward pass's cotangent sum that the last rank-1 update with `accumulate` went into: its values are newer
 * in the module's memory (at `region`) than in its array `c` until {@link settleAccumulator} copies them back.
 * Unrolled loops add one rank-1 term per step into the same weight's sum, so keeping it there saves copying the
 * whole matrix in and out at every step (2 × 2 MiB at d = 512).
 */
interface Accumulator {
  readonly c: Float64Array;
  readonly cOff: number;
  readonly ldc: number;
  readonly m: number;
  readonly n: number;
  readonly region: Region;
  readonly memory: WasmMemory;
}
let pending: Accumulator | null = null;

/**
 * @internal Copies the sum kept by the rank-1 updates back into its array — when it is `c`, or whichever it is when
 * `c` is omitted — so that the array holds its current values. The backward pass calls it before it reads or
 * writes one of its sums by other means, hands one to a rule, or ends (`engine.ts`); `gemmStrided` before any
 * kernel but that rank-1 update writes into `c`.
 */
export function settleAccumulator(c?: Float64Array): void {
  const p = pending;
  if (p === null || (c !== undefined && c !== p.c)) return;
  pending = null;
  const heap = new Float64Array(p.memory.buffer);
  const { cOff, ldc, m, n } = p;
  const at = p.region.start;
  if (ldc === n) p.c.set(heap.subarray(at, at + m * n), cOff);
  else for (let i = 0; i < m; i++) p.c.set(heap.subarray(at + i * n, at + i * n + n), cOff + i * ldc);
  resident.release(p.region);
}

/**
 * C[i][j] += alpha·x[i]·y[j] for C at c[cOff + i·ldc + j] (m×n), x[i] = a[aOff + i·aStride] and
 * y[j] = b[bOff + j·bStride]: the outer products of matmul's derivative rules. C is copied in and back; with
 * `accumulate` (C is a sum owned by the backward pass), C stays in the module's memory for the next update into
 * it, and goes back to `c` only when settled ({@link settleAccumulator}).
 */
function wasmGer(
  m: number,
  n: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  aStride: number,
  b: Float64Array,
  bOff: number,
  bStride: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
  accumulate: boolean,
): boolean {
  const mod = gemvModule();
  if (mod === null) return false;
  const cLen = m * n;
  const p = pending;
  let pc: number;
  let copyIn = true;
  if (
    p !== null &&
    p.c === c &&
    p.cOff === cOff &&
    p.ldc === ldc &&
    p.m === m &&
    p.n === n &&
    p.memory === mod.memory
  ) {
    resident.touch(p.region);
    pc = p.region.start;
    copyIn = false;
  } else {
    settleAccumulator();
    const region = accumulate ? resident.reserve(cLen, () => settleAccumulator(c)) : null;
    if (region !== null) pending = { c, cOff, ldc, m, n, region, memory: mod.memory };
    pc = region === null ? resident.top : region.start;
  }
  const px = Math.max(resident.top, pc + cLen);
  const py = px + m;
  const heap = heapOf(mod.memory, py + n);
  if (copyIn) {
    if (ldc === n) heap.set(c.subarray(cOff, cOff + cLen), pc);
    else for (let i = 0; i < m; i++) heap.set(c.subarray(cOff + i * ldc, cOff + i * ldc + n), pc + i * n);
  }
  for (let i = 0; i < m; i++) heap[px + i] = alpha * a[aOff + i * aStride]!;
  for (let j = 0; j < n; j++) heap[py + j] = b[bOff + j * bStride]!;
  mod.ger(pc * 8, px * 8, py * 8, m, n);
  if (pending !== null && pending.c === c) return true;
  if (ldc === n) c.set(heap.subarray(pc, pc + cLen), cOff);
  else for (let i = 0; i < m; i++) c.set(heap.subarray(pc + i * n, pc + i * n + n), cOff + i * ldc);
  return true;
}

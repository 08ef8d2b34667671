/**
 * Large matrix products on WebAssembly SIMD.
 *
 * Why: float64 GEMM in plain JavaScript tops out near 2 GF/s; the register-blocked WebAssembly SIMD kernel
 * `gemm.wat` runs several times faster (see `runtime.ts`). This module packs the operands into the kernel's
 * memory, calls it, and adds the product into C. The TypeScript kernels in `ops/matmul.ts` remain the fallback
 * and the test oracle.
 *
 * @module
 */
import { GEMM_WASM } from "./gemm-module.js";
import { heapOf, lazyModule, type WasmMemory } from "./runtime.js";

interface GemmExports {
  memory: WasmMemory;
  gemm(pa: number, pb: number, pc: number, mq: number, k: number, np: number): void;
}

const gemmModule = lazyModule<GemmExports>(GEMM_WASM);

/**
 * C += alpha · op(A) · op(B) on the strided views of `gemmStrided` (ops/matmul.ts), by the WebAssembly kernel.
 * Returns false (having done nothing) when the WebAssembly backend is off or unavailable.
 * @internal
 */
export function wasmGemm(
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
): boolean {
  const mod = gemmModule();
  if (mod === null) return false;
  const mq = (m + 3) >> 2;
  const np = (n + 3) >> 2;
  const aLen = mq * 4 * k;
  const bLen = np * 4 * k;
  const pLen = mq * 4 * np * 4;
  const heap = heapOf(mod.memory, aLen + bLen + pLen);
  const pa = 0;
  const pb = aLen;
  const pc = aLen + bLen;
  // A in quads of rows and B in panels of four columns, each interleaved by depth (the layouts of gemm.wat).
  packQuads(heap, pa, a, aOff, aRow, aCol, m, k);
  packQuads(heap, pb, b, bOff, bCol, bRow, n, k);
  heap.fill(0, pc, pc + pLen);
  mod.gemm(pa * 8, pb * 8, pc * 8, mq, k, np);
  const ldp = np * 4;
  for (let i = 0; i < m; i++) {
    const src = pc + i * ldp;
    const dst = cOff + i * ldc;
    if (alpha === 1) for (let j = 0; j < n; j++) c[dst + j] += heap[src + j]!;
    else for (let j = 0; j < n; j++) c[dst + j] += alpha * heap[src + j]!;
  }
  return true;
}

/**
 * Packs `lines` lines of depth k (line i, depth p at src[off + i·lineStride + p·depthStride]) in groups of four,
 * interleaved by depth: heap[base + (g·k + p)·4 + r] = line 4g + r at depth p, zero past the last line. The rows
 * of op(A) and the columns of op(B) are both such lines.
 */
function packQuads(
  heap: Float64Array,
  base: number,
  src: Float64Array,
  off: number,
  lineStride: number,
  depthStride: number,
  lines: number,
  k: number,
): void {
  for (let g = 0; g < lines; g += 4) {
    const group = base + g * k;
    for (let r = 0; r < 4; r++) {
      if (g + r >= lines) {
        for (let p = 0, d = group + r; p < k; p++, d += 4) heap[d] = 0;
        continue;
      }
      let at = off + (g + r) * lineStride;
      for (let p = 0, d = group + r; p < k; p++, d += 4, at += depthStride) heap[d] = src[at]!;
    }
  }
}

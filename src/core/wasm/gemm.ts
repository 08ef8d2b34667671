/**
 * Large matrix products on WebAssembly SIMD.
 *
 * Why: float64 GEMM in plain JavaScript tops out near 2 GF/s, because V8 does not vectorise typed-array loops;
 * WebAssembly's 128-bit SIMD (two doubles per instruction) runs the same register-blocked kernel several times
 * faster, in Node and in every current browser, with no native code. The kernel itself is `gemm.wat` (readable
 * WebAssembly text, assembled at development time into `gemm-module.ts` by `npm run build:wasm`); this module
 * packs the operands into its memory, calls it, and adds the product into C.
 *
 * The TypeScript kernels in `ops/matmul.ts` remain the fallback (an engine without WebAssembly SIMD) and the
 * test oracle. `DIFFOPT_KERNELS=ts` (environment, read once at load) or {@link useKernels}`("ts")` forces them.
 *
 * @module
 */
import { GEMM_WASM } from "./gemm-module.js";

/** The part of the WebAssembly JS API used here (the library compiles without the DOM typings). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

interface GemmExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  gemm(pa: number, pb: number, pc: number, mq: number, k: number, np: number): void;
}

/** Which kernels run the dense products: "wasm" (WebAssembly SIMD, when the engine supports it) or "ts". */
export type KernelBackend = "wasm" | "ts";

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let instance: GemmExports | null | undefined;

/** The instantiated kernel module, or null when this engine has no WebAssembly SIMD. */
function gemmModule(): GemmExports | null {
  if (instance !== undefined) return instance;
  instance = null;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = decodeBase64(GEMM_WASM);
    if (wasm !== undefined && wasm.validate(bytes)) {
      // Synchronous compilation: the module is well under the 4 KiB that browsers allow on the main thread.
      instance = new wasm.Instance(new wasm.Module(bytes)).exports as GemmExports;
    }
  } catch {
    instance = null;
  }
  return instance;
}

function initialBackend(): KernelBackend {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } })["process"]?.env;
  return env?.DIFFOPT_KERNELS === "ts" ? "ts" : "wasm";
}

let backend: KernelBackend = initialBackend();

/**
 * Chooses the kernels of the dense matrix products (GEMM, and through it the blocked LU and Cholesky updates):
 * `"wasm"` (the default: WebAssembly SIMD where the engine supports it, TypeScript otherwise) or `"ts"` (the
 * plain TypeScript kernels). Returns the backend that was in use. The environment variable `DIFFOPT_KERNELS=ts`
 * sets the initial choice in Node. Results agree to rounding: both sum the same products in the same order
 * within a tile, but may group the depth differently.
 *
 * @example
 * ```ts
 * import { useKernels, matmul, random } from "diffopt";
 * const A = random.normal(random.key(0), [64, 64]);
 * const previous = useKernels("ts");
 * const viaTs = matmul(A, A);
 * useKernels(previous);
 * Math.abs(matmul(A, A).data[0] - viaTs.data[0]) < 1e-12; // true
 * ```
 */
export function useKernels(which: KernelBackend): KernelBackend {
  const previous = backend;
  backend = which;
  return previous;
}

/**
 * The backend that runs now: "wasm" only when it is chosen and this engine supports WebAssembly SIMD.
 *
 * @example
 * ```ts
 * import { activeKernels, useKernels } from "diffopt";
 * const previous = useKernels("ts");
 * activeKernels(); // "ts"
 * useKernels(previous);
 * ```
 */
export function activeKernels(): KernelBackend {
  return backend === "wasm" && gemmModule() !== null ? "wasm" : "ts";
}

const PAGE = 65536;

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
  if (backend !== "wasm") return false;
  const mod = gemmModule();
  if (mod === null) return false;
  const mq = (m + 3) >> 2;
  const np = (n + 3) >> 2;
  const aLen = mq * 4 * k;
  const bLen = np * 4 * k;
  const pLen = mq * 4 * np * 4;
  const bytes = (aLen + bLen + pLen) * 8;
  const mem = mod.memory;
  if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / PAGE));
  const heap = new Float64Array(mem.buffer);
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

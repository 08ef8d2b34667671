/**
 * The WebAssembly SIMD runtime shared by the kernels of this folder: instantiating an embedded module, the choice
 * between the WebAssembly and TypeScript kernels, and sizing a module's memory.
 *
 * Why: float64 loops in plain JavaScript are not vectorised by V8; WebAssembly's 128-bit SIMD (two doubles per
 * instruction) runs the same loops several times faster, in Node and in every current browser, with no native
 * code. Each kernel is readable WebAssembly text (`*.wat`), assembled at development time into an embedded
 * `*-module.ts` by `npm run build:wasm`. The TypeScript kernels remain the fallback (an engine without WebAssembly
 * SIMD) and the test oracle; `DIFFOPT_KERNELS=ts` (environment, read once at load) or {@link useKernels}`("ts")`
 * forces them.
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

/** A module's exported linear memory. */
export interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** Which kernels run the dense products and medium elementwise arithmetic: "wasm" (WebAssembly SIMD) or "ts". */
export type KernelBackend = "wasm" | "ts";

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * @internal The exports of the embedded module `base64`, or null when this engine has no WebAssembly SIMD (the
 * module does not validate) or no WebAssembly at all.
 */
export function instantiate<T>(base64: string): T | null {
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = decodeBase64(base64);
    if (wasm === undefined || !wasm.validate(bytes)) return null;
    // Synchronous compilation: each module is well under the 4 KiB that browsers allow on the main thread.
    return new wasm.Instance(new wasm.Module(bytes)).exports as T;
  } catch {
    return null;
  }
}

const PAGE = 65536;

/** @internal The memory as doubles, grown first (by whole pages) to hold at least `doubles` of them. */
export function heapOf(memory: WasmMemory, doubles: number): Float64Array {
  const view = heaps.get(memory);
  // A view of a memory that has grown since reads as empty (its old buffer is detached), so it is made afresh.
  if (view !== undefined && view.length >= doubles) return view;
  const bytes = doubles * 8;
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  const fresh = new Float64Array(memory.buffer);
  heaps.set(memory, fresh);
  return fresh;
}

/** The last view made by {@link heapOf} of each memory: a new view per kernel call cost ~5% of a 128×128 product. */
const heaps = new WeakMap<WasmMemory, Float64Array>();

function initialBackend(): KernelBackend {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } })["process"]?.env;
  return env?.DIFFOPT_KERNELS === "ts" ? "ts" : "wasm";
}

let backend: KernelBackend = initialBackend();
let simd: boolean | undefined;

/**
 * @internal The exports of the embedded module `base64` while the WebAssembly kernels are chosen, instantiated on
 * first use; null when the TypeScript kernels are chosen or this engine has no WebAssembly SIMD.
 */
export function lazyModule<T>(base64: string): () => T | null {
  let instance: T | null | undefined;
  return () => (backend === "wasm" ? (instance ??= instantiate<T>(base64)) : null);
}

/**
 * Chooses the kernels of the dense matrix products (GEMM, matrix–vector and outer products, and through them the
 * blocked LU and Cholesky updates), of elementwise add/sub/mul/div from 512 elements and of tanh from 16:
 * `"wasm"` (the default: WebAssembly SIMD where the engine supports it, TypeScript otherwise) or `"ts"` (the
 * plain TypeScript kernels, and `Math.tanh`). Returns the backend that was in use. The environment variable
 * `DIFFOPT_KERNELS=ts` sets the initial choice in Node. Results agree to rounding: the kernels sum the same
 * products, but may group them differently, and the two tanh are each within 2 ulp of the exact value.
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
  simd ??= instantiate<object>(GEMM_WASM) !== null;
  return backend === "wasm" && simd ? "wasm" : "ts";
}

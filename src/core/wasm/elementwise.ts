/**
 * Elementwise arithmetic on WebAssembly SIMD.
 *
 * Why: V8 runs a JavaScript loop over typed arrays at one element every 1–5 ns (bounds checks, no vectorisation),
 * while copying doubles in and out of the module's memory is a native memcpy many times faster; so for medium and
 * large operands, copy in + the f64x2 loops of `elementwise.wat` + copy out beats the plain loop. Measured on this
 * project's 2-core machine (`add` of two same-shape tensors, best CPU time per call, TypeScript → WebAssembly):
 * 2.5 → 2.0 µs at 512 elements, 3.9 → 2.1 µs at 1000, 67 → 28 µs at 16384, 388 → 223 µs at 10⁵; no gain at 256
 * (`npm run bench -- core` prints the same comparison). Only same-length operands, or one full operand and a
 * scalar, are served; the other broadcasts stay in TypeScript (`ops/elementwise.ts`), which is also the fallback
 * and the test oracle.
 *
 * @module
 */
import { ELEMENTWISE_WASM } from "./elementwise-module.js";
import { heapOf, lazyModule, type WasmMemory } from "./runtime.js";

type Binary = (a: number, b: number, c: number, n: number) => void;

interface ElementwiseExports {
  memory: WasmMemory;
  add: Binary;
  sub: Binary;
  mul: Binary;
  div: Binary;
  tanh(a: number, c: number, n: number): void;
}

const elementwiseModule = lazyModule<ElementwiseExports>(ELEMENTWISE_WASM);

/** From this many elements the copies are repaid (measured crossover 200–400 elements). */
const WASM_MIN_LENGTH = 512;
/**
 * Up to this many (2¹⁸, 2 MiB per operand): the module's memory, which never shrinks, holds three operands of the
 * largest op served, so at most 6 MiB; larger ops stay in TypeScript, where the gain is also smaller (1.6× at
 * 10⁵ elements, bound by memory bandwidth).
 */
const WASM_MAX_LENGTH = 1 << 18;

const NAMES = ["add", "sub", "mul", "div"] as const;

/**
 * out[i] = a[i] ∘ b[i] (or a[i] ∘ b[0] when b has one element; with `scalarFirst`, b[0] ∘ a[i]), ∘ being add, sub,
 * mul or div for op 0–3, by the WebAssembly kernels. Returns false (having done nothing) for arrays shorter than
 * 512 or longer than 2¹⁸, or when the WebAssembly backend is off or unavailable.
 * @internal
 */
export function wasmArith(
  op: 0 | 1 | 2 | 3,
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  scalarFirst = false,
): boolean {
  const n = out.length;
  if (n < WASM_MIN_LENGTH || n > WASM_MAX_LENGTH) return false;
  const mod = elementwiseModule();
  if (mod === null) return false;
  const heap = heapOf(mod.memory, 3 * n);
  heap.set(a, 0);
  if (b.length === 1) heap.fill(b[0]!, n, 2 * n);
  else heap.set(b, n);
  if (scalarFirst) mod[NAMES[op]](n * 8, 0, 2 * n * 8, n);
  else mod[NAMES[op]](0, n * 8, 2 * n * 8, n);
  out.set(heap.subarray(2 * n, 3 * n));
  return true;
}

/**
 * From this many elements tanh runs on the WebAssembly kernel: `Math.tanh` costs ~15–30 ns per element (a call
 * into the runtime's C library each time), the kernel a few ns plus two copies.
 */
const WASM_TANH_MIN_LENGTH = 16;

/**
 * out[i] = tanh(a[i]) by the WebAssembly kernel (within 2 ulp of `Math.tanh`; exact at ±0, ±∞ and NaN). Returns
 * false (having done nothing) for arrays shorter than 16 or longer than 2¹⁸, or when the WebAssembly backend is
 * off or unavailable.
 * @internal
 */
export function wasmTanh(a: Float64Array, out: Float64Array): boolean {
  const n = out.length;
  if (n < WASM_TANH_MIN_LENGTH || n > WASM_MAX_LENGTH) return false;
  const mod = elementwiseModule();
  if (mod === null) return false;
  const heap = heapOf(mod.memory, 2 * n);
  heap.set(a, 0);
  mod.tanh(0, n * 8, n);
  out.set(heap.subarray(n, 2 * n));
  return true;
}

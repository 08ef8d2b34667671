/**
 * The dense-kernel tests again, with the TypeScript kernels forced (the WebAssembly SIMD ones run by default), so
 * both paths stay correct: the fallback for engines without WebAssembly SIMD is also the test oracle.
 */
import { useKernels } from "../src/index.js";

useKernels("ts");
await import("./gemm.test.js");
await import("./gemv.test.js");
await import("./linalg-kernels-perf.test.js");
await import("./wasm-resident.test.js");

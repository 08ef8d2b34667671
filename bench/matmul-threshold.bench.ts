/**
 * Where the WebAssembly GEMM starts to pay: for each product shape m×k×n (m, n from 2 to 64, k from 4 to 1000)
 * and both layouts the library uses most (op(A) = A and op(A) = Aᵀ, as in Xᵀ·V), the time of the TypeScript
 * kernels (`gemmStrided` with `useKernels("ts")`) against the WebAssembly kernel (`wasmGemm`, packing and copying
 * back included). The table gives TypeScript time / WebAssembly time per shape; `matmul.ts` sets its threshold
 * `WASM_MIN_WORK` from the smallest work m·n·k above which WebAssembly wins. Matrix–vector shapes (m or n = 1)
 * take their own kernels (`wasm/gemv.ts`) and are not measured here. Run: `npm run bench -- matmul-threshold`.
 */
import { gemmStrided } from "../src/core/ops/matmul.js";
import { wasmGemm } from "../src/core/wasm/gemm.js";
import { activeKernels, useKernels } from "../src/index.js";
import { printTable, timeIt } from "./util.js";

const SIDES = [2, 4, 8, 16, 32, 64] as const;
const DEPTHS = [4, 16, 64, 300, 1000] as const;

/** Seconds per product of the TypeScript and the WebAssembly kernels on one shape and layout. */
function timeShape(m: number, k: number, n: number, transposedA: boolean): [number, number] {
  const a = Float64Array.from({ length: m * k }, (_, i) => Math.sin(i + 1));
  const b = Float64Array.from({ length: k * n }, (_, i) => Math.cos(i + 1));
  const c = new Float64Array(m * n);
  const [aRow, aCol] = transposedA ? [1, m] : [k, 1];
  const opts = { minTime: 0.03, minBatches: 5, warmup: 0.01 };
  const previous = useKernels("ts");
  const ts = timeIt(() => gemmStrided(m, k, n, 1, a, 0, aRow, aCol, b, 0, n, 1, c, 0, n), opts).median;
  useKernels("wasm");
  const wasm = timeIt(() => wasmGemm(m, k, n, 1, a, 0, aRow, aCol, b, 0, n, 1, c, 0, n), opts).median;
  useKernels(previous);
  return [ts, wasm];
}

export function run(): Promise<void> {
  const previous = useKernels("wasm");
  const available = activeKernels() === "wasm";
  useKernels(previous);
  if (!available) {
    console.log("WebAssembly SIMD is not available here: nothing to compare.");
    return Promise.resolve();
  }
  for (const transposedA of [false, true]) {
    const rows: string[][] = [];
    // Per thinnest side min(m, n): the largest work where TypeScript still wins.
    const tsWinsUpTo = new Map<number, number>();
    for (const m of SIDES)
      for (const n of SIDES) {
        const row = [`${m}×·×${n}`];
        for (const k of DEPTHS) {
          const [ts, wasm] = timeShape(m, k, n, transposedA);
          const work = m * n * k;
          const side = Math.min(m, n);
          if (ts < wasm) tsWinsUpTo.set(side, Math.max(tsWinsUpTo.get(side) ?? 0, work));
          row.push(`${(ts / wasm).toFixed(2)}×`);
        }
        rows.push(row);
      }
    printTable(
      `TypeScript time / WebAssembly time, op(A) = ${transposedA ? "Aᵀ" : "A"} (> 1: WebAssembly is faster)`,
      ["m×k×n", ...DEPTHS.map((k) => `k=${k}`)],
      rows,
    );
    for (const side of SIDES)
      console.log(`  min(m, n) = ${side}: TypeScript wins on some shape up to m·n·k = ${tsWinsUpTo.get(side) ?? 0}`);
  }
  return Promise.resolve();
}

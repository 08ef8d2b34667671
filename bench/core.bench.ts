/**
 * Core benchmarks: per-op overhead of small ops eagerly and under `grad`, the gradient of a least-squares loss,
 * matmul throughput, and the matrix–vector and elementwise kernels on medium tensors.
 */
import {
  Tensor,
  activeKernels,
  add,
  exp,
  grad,
  matmul,
  matmulTN,
  mul,
  random,
  square,
  sub,
  sum,
  tensor,
  useKernels,
  type KernelBackend,
} from "../src/index.js";
import { formatTime, printTable, timeIt, verdict } from "./util.js";

const EAGER_TARGET = 2e-6;
const GRAD_TARGET = 5e-6;
const MATMUL_TARGET_GFLOPS = 2;

/** Number of ops in the chain differentiated by `grad` (the time per gradient is divided by it). */
const CHAIN = 1000;

type UnaryStep = (acc: Tensor, x: Tensor) => Tensor;

function opOverhead(): void {
  const keys = random.split(random.key(0), 2);
  const x = random.normal(keys[0]!, [10]);
  const y = random.normal(keys[1]!, [10]);
  // The chain for `mul` multiplies by ones so values stay finite; the chain of `exp` overflows to Infinity after
  // a few steps, which IEEE arithmetic handles at full speed, so the timing is unaffected.
  const ones = tensor(new Float64Array(10).fill(1));
  const cases: [string, () => Tensor, UnaryStep, Tensor][] = [
    ["add", () => add(x, y), (acc, v) => add(acc, v), x],
    ["mul", () => mul(x, y), (acc, v) => mul(acc, v), ones],
    ["exp", () => exp(x), (acc) => exp(acc), x],
  ];
  // Reference: a plain allocation of the output array. Above 64 bytes (8 doubles) V8 allocates a typed array's
  // backing store outside its heap, which costs far more than the arithmetic of a small op; diffopt's ops carve
  // small outputs out of a shared slab instead (src/core/alloc.ts), so an op can cost less than this row.
  const alloc = timeIt(() => new Float64Array(10)).median;
  const rows: string[][] = [["new Float64Array(10) (reference)", formatTime(alloc), "", ""]];
  for (const [name, eager, step, start] of cases) {
    const te = timeIt(eager).median;
    const chained = (v: Tensor) => {
      let acc = v;
      for (let i = 0; i < CHAIN; i++) acc = step(acc, v);
      return sum(acc);
    };
    const g = grad(chained);
    const tg = timeIt(() => g(start)).median / CHAIN;
    rows.push([name, formatTime(te), `≤ ${formatTime(EAGER_TARGET)}`, verdict(te <= EAGER_TARGET)]);
    rows.push([`${name} under grad`, formatTime(tg), `≤ ${formatTime(GRAD_TARGET)}`, verdict(tg <= GRAD_TARGET)]);
  }
  printTable(
    `Per-op overhead, size-10 tensors (under grad: time of one gradient of a chain of ${CHAIN} ops, forward and backward, / ${CHAIN})`,
    ["op", "time / op", "target", "status"],
    rows,
  );
}

function leastSquares(): void {
  const n = 1000;
  const d = 100;
  const [kx, ky, kw] = random.split(random.key(1), 3);
  const X = random.normal(kx!, [n, d]);
  const y = random.normal(ky!, [n]);
  const w = random.normal(kw!, [d]);
  const loss = (v: Tensor) => mul(0.5, sum(square(sub(matmul(X, v), y))));
  const gradLoss = grad(loss);
  const tf = timeIt(() => loss(w)).median;
  const tg = timeIt(() => gradLoss(w)).median;
  printTable(
    `Least squares ½‖Xw − y‖², X ${n}×${d}`,
    ["quantity", "time", "ratio to forward"],
    [
      ["forward", formatTime(tf), "1.00×"],
      ["grad", formatTime(tg), `${(tg / tf).toFixed(2)}×`],
    ],
  );
}

/** matmul GF/s with each kernel backend, side by side in one run (the WebAssembly SIMD kernel is the default). */
function matmulThroughput(): void {
  const rows: string[][] = [];
  for (const n of [64, 256, 512, 1024]) {
    const [ka, kb] = random.split(random.key(n), 2);
    const A = random.normal(ka!, [n, n]);
    const B = random.normal(kb!, [n, n]);
    const gflops: Record<KernelBackend, number> = { wasm: 0, ts: 0 };
    for (const backend of ["ts", "wasm"] as const) {
      const previous = useKernels(backend);
      const t = timeIt(() => matmul(A, B), { minBatches: 3, warmup: 0 }).median;
      useKernels(previous);
      gflops[backend] = (2 * n ** 3) / t / 1e9;
    }
    rows.push([
      `${n}×${n}`,
      gflops.ts.toFixed(2),
      gflops.wasm.toFixed(2),
      `${(gflops.wasm / gflops.ts).toFixed(2)}×`,
      `≥ ${MATMUL_TARGET_GFLOPS}`,
      verdict(gflops[activeKernels()] >= MATMUL_TARGET_GFLOPS),
    ]);
  }
  printTable(
    `matmul (n×n times n×n, 2n³ flops), GF/s per kernel backend (active: ${activeKernels()})`,
    ["size", "TypeScript", "WebAssembly SIMD", "speed-up", "target", "status"],
    rows,
  );
}

/**
 * Time of `fn` with each kernel backend, in one run: [TypeScript, WebAssembly SIMD]. The backends alternate twice
 * and each keeps its better median, so that a burst of load from other processes does not decide the ratio.
 */
function perBackend(fn: () => unknown): [number, number] {
  const best = { ts: Infinity, wasm: Infinity };
  for (const backend of ["ts", "wasm", "ts", "wasm"] as const) {
    const previous = useKernels(backend);
    best[backend] = Math.min(best[backend], timeIt(fn, { minBatches: 3, minTime: 0.1 }).median);
    useKernels(previous);
  }
  return [best.ts, best.wasm];
}

/**
 * Medium tensors: matrix–vector products (A·x and Aᵀ·x, GF/s counting the copy into the module's memory) and an
 * elementwise add, per kernel backend.
 */
function mediumKernels(): void {
  const rows: string[][] = [];
  for (const [m, n] of [
    [64, 64],
    [128, 128],
    [1000, 100],
    [512, 512],
  ] as const) {
    const [ka, kx, ky] = random.split(random.key(m + n), 3);
    const A = random.normal(ka!, [m, n]);
    const x = random.normal(kx!, [n]);
    const y = random.normal(ky!, [m]);
    for (const [label, fn] of [
      [`A·x, A ${m}×${n}`, () => matmul(A, x)],
      [`Aᵀ·y, A ${m}×${n}`, () => matmulTN(A, y.reshape([m, 1]))],
    ] as const) {
      const [ts, wasm] = perBackend(fn);
      const gf = (t: number) => ((2 * m * n) / t / 1e9).toFixed(2);
      rows.push([
        label,
        `${formatTime(ts)} (${gf(ts)} GF/s)`,
        `${formatTime(wasm)} (${gf(wasm)} GF/s)`,
        `${(ts / wasm).toFixed(2)}×`,
      ]);
    }
  }
  for (const n of [300, 1000, 16384, 100000]) {
    const [ka, kb] = random.split(random.key(n), 2);
    const a = random.normal(ka!, [n]);
    const b = random.normal(kb!, [n]);
    const [ts, wasm] = perBackend(() => add(a, b));
    rows.push([`add, ${n} elements`, formatTime(ts), formatTime(wasm), `${(ts / wasm).toFixed(2)}×`]);
  }
  printTable(
    `medium tensors: matrix–vector products and elementwise add per kernel backend (active: ${activeKernels()})`,
    ["op", "TypeScript", "WebAssembly SIMD", "speed-up"],
    rows,
  );
}

/** Runs the core benchmarks and prints their tables. */
export async function run(): Promise<void> {
  opOverhead();
  leastSquares();
  matmulThroughput();
  mediumKernels();
}

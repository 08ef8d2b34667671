/**
 * Elementwise arithmetic on WebAssembly SIMD (wasm/elementwise.ts): add, sub, mul and div of same-shape tensors
 * and of a tensor with a scalar on either side equal the scalar IEEE operation element by element — signed
 * zeros, infinities and NaN included — on both kernel paths, at lengths around the switch-over and odd ones.
 * tanh, which WebAssembly computes by its own polynomial and exponential, is checked against correctly rounded
 * values (test/fixtures/tanh-mpmath.json, from mpmath) and against Math.tanh over the whole range.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { add, div, mul, sub, tanh, tensor, useKernels, type Tensor } from "../src/index.js";
import { wasmArith, wasmTanh } from "../src/core/wasm/elementwise.js";
import { rng } from "./helpers.js";

const OPS: [string, (a: Tensor | number, b: Tensor | number) => Tensor, (x: number, y: number) => number][] = [
  ["add", add, (x, y) => x + y],
  ["sub", sub, (x, y) => x - y],
  ["mul", mul, (x, y) => x * y],
  ["div", div, (x, y) => x / y],
];

const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-310, -1e308];

function values(r: ReturnType<typeof rng>, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => (i % 7 === 3 ? SPECIAL[(i >> 3) % SPECIAL.length]! : r.normal()));
}

function assertSameBits(got: Float64Array, expected: Float64Array, label: string): void {
  assert.equal(got.length, expected.length, label);
  for (let i = 0; i < got.length; i++) {
    const ok = Object.is(got[i], expected[i]) || (Number.isNaN(got[i]) && Number.isNaN(expected[i]));
    if (!ok) assert.fail(`${label}: element ${i} is ${got[i]}, expected ${expected[i]}`);
  }
}

test("add/sub/mul/div on both kernel paths equal the scalar operation, special values included", () => {
  const r = rng(23);
  for (const n of [511, 512, 513, 1001]) {
    const x = values(r, n);
    const y = values(r, n);
    for (const s of [2.5, -0, NaN]) {
      for (const [name, op, f] of OPS) {
        const cases: [string, () => Tensor, Float64Array][] = [
          ["a∘b", () => op(tensor(x), tensor(y)), x.map((v, i) => f(v, y[i]!))],
          ["a∘s", () => op(tensor(x), s), x.map((v) => f(v, s))],
          ["s∘b", () => op(s, tensor(y)), y.map((v) => f(s, v))],
        ];
        for (const [form, compute, expected] of cases) {
          for (const kernels of ["wasm", "ts"] as const) {
            const previous = useKernels(kernels);
            const got = compute();
            useKernels(previous);
            assertSameBits(got.data, expected, `${kernels} ${name} ${form} n=${n} s=${s}`);
          }
        }
      }
    }
  }
});

test("wasmArith serves from 512 to 2^18 elements when chosen, and declines otherwise", () => {
  const a = new Float64Array(512).fill(3);
  const b = new Float64Array(512).fill(2);
  const out = new Float64Array(512);
  assert.equal(wasmArith(3, a, b, out), true);
  assert.deepEqual([...new Set(out)], [1.5]);
  assert.equal(wasmArith(1, a, new Float64Array([1]), out, true), true);
  assert.deepEqual([...new Set(out)], [-2]);
  assert.equal(wasmArith(0, a.subarray(1), b.subarray(1), out.subarray(1)), false);
  const big = new Float64Array((1 << 18) + 1);
  assert.equal(wasmArith(0, big, big, big.slice()), false);
  const previous = useKernels("ts");
  assert.equal(wasmArith(0, a, b, out), false);
  useKernels(previous);
});

/** How many doubles lie between a and b (0 when equal; both finite or both the same infinity). */
function ulpDistance(a: number, b: number): number {
  const order = (x: number): bigint => {
    const bits = new BigInt64Array(new Float64Array([x]).buffer)[0]!;
    return bits < 0n ? -(bits & 0x7fffffffffffffffn) : bits;
  };
  const d = order(a) - order(b);
  return Number(d < 0n ? -d : d);
}

const TANH_REFERENCE = JSON.parse(readFileSync(new URL("./fixtures/tanh-mpmath.json", import.meta.url), "utf8")) as [
  number,
  number,
][];

/** tanh by the active kernels, through the op (≥ 16 elements take the WebAssembly kernel when it is chosen). */
function tanhOf(xs: Float64Array, kernels: "wasm" | "ts"): Float64Array {
  const previous = useKernels(kernels);
  try {
    return tanh(tensor(xs)).data;
  } finally {
    useKernels(previous);
  }
}

test("tanh is within 2 ulp of the correctly rounded value from subnormals to 40, on both kernel paths", () => {
  const xs = Float64Array.from(TANH_REFERENCE, ([x]) => x);
  for (const kernels of ["wasm", "ts"] as const) {
    const got = tanhOf(xs, kernels);
    let worst = 0;
    for (let i = 0; i < xs.length; i++) worst = Math.max(worst, ulpDistance(got[i]!, TANH_REFERENCE[i]![1]));
    assert.ok(worst <= 2, `${kernels}: ${worst} ulp`);
  }
  // The WebAssembly kernel itself is within 1 ulp there (Math.tanh, the C library's, is not).
  const out = new Float64Array(xs.length);
  if (wasmTanh(xs, out)) {
    for (let i = 0; i < xs.length; i++) {
      assert.ok(ulpDistance(out[i]!, TANH_REFERENCE[i]![1]) <= 1, `wasm tanh(${xs[i]}) = ${out[i]}`);
    }
  }
});

test("tanh agrees with Math.tanh within 2 ulp over the whole range, and exactly at ±0, ±∞, NaN, tiny and huge x", () => {
  const r = rng(5);
  for (const [lo, hi] of [
    [0, 0.1],
    [0, 0.6],
    [0.5, 1],
    [1, 3],
    [3, 22],
    [20, 1e3],
  ] as const) {
    const xs = Float64Array.from({ length: 20001 }, () => (r.uniform() < 0.5 ? -1 : 1) * r.uniform(lo, hi));
    for (const kernels of ["wasm", "ts"] as const) {
      const got = tanhOf(xs, kernels);
      for (let i = 0; i < xs.length; i++) {
        const d = ulpDistance(got[i]!, Math.tanh(xs[i]!));
        if (d > 2) assert.fail(`${kernels}: tanh(${xs[i]}) = ${got[i]}, Math.tanh ${Math.tanh(xs[i]!)} (${d} ulp)`);
      }
    }
  }
  const special = [0, -0, Infinity, -Infinity, NaN, 5e-324, -5e-324, 1e-300, -2.2e-308, 1e-9, 22, -30, 1e300];
  for (const n of [15, 16, 17, 33]) {
    // Lengths around the switch to the kernel and odd ones (the last element takes the kernel's one-lane path).
    const xs = Float64Array.from({ length: n }, (_, i) => special[i % special.length]!);
    for (const kernels of ["wasm", "ts"] as const) {
      assertSameBits(tanhOf(xs, kernels), xs.map(Math.tanh), `${kernels} n=${n}`);
    }
  }
});

test("wasmTanh serves from 16 to 2^18 elements when chosen, and declines otherwise", () => {
  const out = new Float64Array(16);
  assert.equal(wasmTanh(new Float64Array(16).fill(1), out), true);
  assert.deepEqual([...new Set(out)], [Math.tanh(1)]);
  assert.equal(wasmTanh(new Float64Array(15), out.subarray(1)), false);
  const big = new Float64Array((1 << 18) + 1);
  assert.equal(wasmTanh(big, big.slice()), false);
  const previous = useKernels("ts");
  assert.equal(wasmTanh(out, out.slice()), false);
  useKernels(previous);
});

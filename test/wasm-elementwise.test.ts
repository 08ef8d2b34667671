/**
 * Elementwise arithmetic on WebAssembly SIMD (wasm/elementwise.ts): add, sub, mul and div of same-shape tensors
 * and of a tensor with a scalar on either side equal the scalar IEEE operation element by element — signed
 * zeros, infinities and NaN included — on both kernel paths, at lengths around the switch-over and odd ones.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { add, div, mul, sub, tensor, useKernels, type Tensor } from "../src/index.js";
import { wasmArith } from "../src/core/wasm/elementwise.js";
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

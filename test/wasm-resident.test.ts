/**
 * Matrices kept in the WebAssembly module's memory across calls (`src/core/wasm/resident.ts`) must never serve
 * stale values. Each test changes what a matrix holds through one path by which internal code can (a fresh
 * tensor around a rewritten scratch array, the backward pass's in-place sums, a replaced or detached `raw`, a
 * batch's views, eviction, the per-call scratch of other kernels) and then multiplies by it again, comparing with
 * a naive product. Runs with the default kernels here and with the TypeScript kernels forced in
 * test/kernels-ts.test.ts, where every product must agree just the same.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { add, checkGrads, grad, matmul, mul, sum, tanh, tensor, vmap, type Tensor } from "../src/index.js";
import { Tensor as TensorClass } from "../src/core/tensor.js";
import { forgetResident } from "../src/core/wasm/gemv.js";
import { RESIDENT_BUDGET, ResidentMatrices } from "../src/core/wasm/resident.js";
import { assertClose, rng } from "./helpers.js";

const r = rng(2026);
const randn = (n: number) => Float64Array.from({ length: n }, () => r.normal());

/** A·x by a naive loop, A rows×cols row-major. */
function naive(a: Float64Array, x: Float64Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) y[i] += a[i * cols + j]! * x[j]!;
  return y;
}
const naiveT = (a: Float64Array, x: Float64Array, rows: number, cols: number) => {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return naive(t, x, cols, rows);
};
const tol = { rtol: 1e-12, atol: 1e-12 };

test("a scratch array rewritten between products, each time in a fresh tensor, is read afresh", () => {
  const d = 48;
  const buf = randn(d * d);
  const x = tensor(randn(d));
  for (let round = 0; round < 4; round++) {
    for (let rep = 0; rep < 3; rep++) {
      const A = new TensorClass(buf, [d, d]);
      assertClose(matmul(A, x).data, naive(buf, x.data, d, d), tol, `A·x round ${round}`);
      assertClose(matmul(x, A).data, naiveT(buf, x.data, d, d), tol, `x·A round ${round}`);
    }
    for (let i = 0; i < buf.length; i += 7) buf[i] = r.normal();
  }
});

test("a tensor written in place after forgetResident (the backward pass's own sums) is read afresh", () => {
  const d = 40;
  const buf = randn(d * d);
  const A = new TensorClass(buf, [d, d]);
  const x = tensor(randn(d));
  for (let rep = 0; rep < 3; rep++) assertClose(matmul(A, x).data, naive(buf, x.data, d, d), tol);
  forgetResident(A);
  buf.fill(0.5);
  assertClose(matmul(A, x).data, naive(buf, x.data, d, d), tol, "after the write");
  assertClose(matmul(x, A).data, naiveT(buf, x.data, d, d), tol, "transposed, after the write");
});

/** z ↦ tanh(W z + x), `steps` times from z = x, then cᵀz: the function and its gradient in W by hand. */
function unrolled(d: number, steps: number) {
  const x = tensor(randn(d));
  const c = tensor(randn(d));
  const f = (Wm: Tensor) => {
    let z = x;
    for (let i = 0; i < steps; i++) z = tanh(add(matmul(Wm, z), x));
    return sum(mul(c, z));
  };
  const gradient = (w: Float64Array): Float64Array => {
    const zs: Float64Array[] = [x.data];
    for (let i = 0; i < steps; i++) zs.push(naive(w, zs[i]!, d, d).map((v, j) => Math.tanh(v + x.data[j]!)));
    const g = new Float64Array(d * d);
    let u: Float64Array = c.data.slice();
    for (let i = steps - 1; i >= 0; i--) {
      const s = u.map((v, j) => v * (1 - zs[i + 1]![j]! ** 2));
      for (let p = 0; p < d; p++) for (let q = 0; q < d; q++) g[p * d + q] += s[p]! * zs[i]![q]!;
      u = naiveT(w, s, d, d);
    }
    return g;
  };
  return { x, f, gradient };
}
const gradTol = { rtol: 1e-11, atol: 1e-12 };

test("gradients summed in place over an unrolled loop, then used as matrices, equal the closed form", () => {
  // W is used at every step, so its cotangent is a sum the backward pass adds into in place (kept in the
  // WebAssembly memory between the rank-1 updates); the result is then itself multiplied (kept from its second
  // use), and W's own products are kept across the steps.
  const d = 36;
  const W = mul(0.3 / Math.sqrt(d), tensor(randn(d * d), [d, d]));
  const { x, f, gradient } = unrolled(d, 6);
  const g = grad(f);
  for (let rep = 0; rep < 3; rep++) {
    const G = g(W) as Tensor;
    const expected = gradient(W.data);
    assertClose(G.data, expected, gradTol, `gradient, call ${rep}`);
    for (let k = 0; k < 3; k++) assertClose(matmul(G, x).data, naive(expected, x.data, d, d), gradTol);
  }
});

test("a sum kept by the rank-1 updates is settled before it is handed on, added to, or written by another kernel", () => {
  const d = 36;
  const W = mul(0.3 / Math.sqrt(d), tensor(randn(d * d), [d, d]));
  const { f, gradient } = unrolled(d, 5);
  const loop = gradient(W.data);
  // Handed to a rule: the loop runs on 2W, whose summed cotangent goes through mul's rule.
  const twice = grad((Wm: Tensor) => f(mul(Wm, 2)))(W) as Tensor;
  assertClose(
    twice.data,
    gradient(mul(W, 2).data).map((v) => 2 * v),
    gradTol,
    "handed on",
  );
  // Added to: an elementwise use of W before the loop sends M after the loop's terms.
  const M = tensor(randn(d * d), [d, d]);
  const added = grad((Wm: Tensor) => add(sum(mul(Wm, M)), f(Wm)))(W) as Tensor;
  assertClose(
    added.data,
    loop.map((v, i) => v + M.data[i]!),
    gradTol,
    "added to",
  );
  // Written by other kernels: W times a matrix before the loop adds 1·Zᵀ by a matrix product (GEMM for 26
  // columns, the plain loops for 3).
  for (const k of [26, 3]) {
    const Z = tensor(randn(d * k), [d, k]);
    const product = grad((Wm: Tensor) => add(sum(matmul(Wm, Z)), f(Wm)))(W) as Tensor;
    const rowSums = Array.from({ length: d }, (_, q) => Z.data.subarray(k * q, k * q + k).reduce((s, v) => s + v));
    assertClose(
      product.data,
      loop.map((v, i) => v + rowSums[i % d]!),
      gradTol,
      `another kernel, k = ${k}`,
    );
  }
});

test("checkGrads' perturbed points (one scratch array, rewritten for each entry) give the right derivative", () => {
  const d = 32; // 1024 entries: the smallest matrix the WebAssembly kernels take
  const x = tensor(randn(d));
  const A = tensor(randn(d * d), [d, d]);
  const report = checkGrads((M: Tensor) => sum(tanh(matmul(M, x))), [A], { order: 1 });
  assert.ok(report.ok, `worst ${JSON.stringify(report.worst)}`);
});

test("a tensor whose raw is replaced (first read of data) or detached (a transferred buffer) is not served", () => {
  const d = 32; // 1024 doubles: a view of a shared slab
  const A = tensor(randn(d * d), [d, d]);
  const x = tensor(randn(d));
  const expected = naive(A.toFloat64Array(), x.data, d, d);
  for (let rep = 0; rep < 3; rep++) assertClose(matmul(A, x).data, expected, tol);
  const data = A.data; // a slab view is replaced by an owned copy
  assertClose(matmul(A, x).data, expected, tol, "after the swap");
  assertClose(matmul(A, x).data, expected, tol, "after the swap, kept again");
  structuredClone(data, { transfer: [data.buffer as ArrayBuffer] });
  // The values are gone: a product either fails or gives NaN, never the old values.
  let out: Float64Array | null;
  try {
    out = matmul(A, x).data;
  } catch {
    out = null;
  }
  if (out !== null) assert.ok(out.every(Number.isNaN), "no stale values after a transfer");
});

test("each matrix of a batch is kept as its own view", () => {
  const [B, d] = [5, 33];
  const As = tensor(randn(B * d * d), [B, d, d]);
  const x = tensor(randn(d));
  for (let rep = 0; rep < 3; rep++) {
    const batched = vmap((A: Tensor) => matmul(A, x))(As) as Tensor;
    const broadcast = matmul(As, tensor(x.data, [d, 1]));
    for (let b = 0; b < B; b++) {
      const expected = naive(As.data.subarray(b * d * d, (b + 1) * d * d), x.data, d, d);
      assertClose(batched.data.subarray(b * d, (b + 1) * d), expected, tol, `vmap, element ${b}`);
      assertClose(broadcast.data.subarray(b * d, (b + 1) * d), expected, tol, `broadcast, element ${b}`);
    }
  }
});

test("more matrices than the budget holds: evicted ones are copied again, large ones beside the kept are right", () => {
  const d = 600; // 2.7 MiB each: six fill the 16 MiB budget
  const x = tensor(randn(d));
  const mats = Array.from({ length: 9 }, () => tensor(randn(d * d), [d, d]));
  const expected = mats.map((A) => naive(A.data, x.data, d, d));
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < mats.length; i++) {
      assertClose(matmul(mats[i]!, x).data, expected[i]!, tol, `matrix ${i}`);
      assertClose(matmul(mats[i]!, x).data, expected[i]!, tol, `matrix ${i}, again`);
    }
  }
  // Per-call operands above the kept copies: a matrix larger than half the budget, and an outer product (GER,
  // which copies its target into the scratch), leave the kept copies intact.
  const n = 1500;
  const big = tensor(randn(n * n), [n, n]);
  const xb = tensor(randn(n));
  assertClose(matmul(big, xb).data, naive(big.data, xb.data, n, n), { rtol: 1e-11, atol: 1e-11 });
  const G = (grad((M: Tensor) => sum(matmul(M, xb)))(big) as Tensor).data; // ∂/∂M = 1·xbᵀ, by the GER kernel
  for (const i of [0, n - 1]) assertClose(G.subarray(i * n, (i + 1) * n), xb.data, tol, `gradient row ${i}`);
  const last = mats.length - 1;
  assertClose(matmul(mats[last]!, x).data, expected[last]!, tol, "a kept matrix after the large products");
});

test("ResidentMatrices: kept from the second use, reused, forgotten, evicted least recently used first", () => {
  const budget = 1000;
  const kept = new ResidentMatrices(budget);
  assert.equal(RESIDENT_BUDGET, 1 << 21);
  const a = new Float64Array(400);
  const b = new Float64Array(400);
  const c = new Float64Array(400);
  const [sa, sb, sc] = [{}, {}, {}];
  assert.equal(kept.place(sa, a, 0, 20, 20, 20), null, "first use: not kept");
  assert.deepEqual(kept.place(sa, a, 0, 20, 20, 20), { start: 0, copy: true }, "second use: a new place");
  assert.deepEqual(kept.place(sa, a, 0, 20, 20, 20), { start: 0, copy: false }, "third use: reused");
  assert.equal(kept.top, 400);
  assert.equal(kept.place(sa, a.slice(), 0, 20, 20, 20), null, "other values behind the same source: not served");
  assert.equal(kept.top, 0, "and the old copy is dropped");
  kept.place(sa, a, 0, 20, 20, 20);
  kept.place(sa, a, 0, 20, 20, 20);
  kept.place(sb, b, 0, 20, 20, 20);
  assert.deepEqual(kept.place(sb, b, 0, 20, 20, 20), { start: 400, copy: true });
  kept.place(sa, a, 0, 20, 20, 20); // a is now more recent than b
  kept.place(sc, c, 0, 20, 20, 20);
  assert.deepEqual(kept.place(sc, c, 0, 20, 20, 20), { start: 400, copy: true }, "b, least recently used, evicted");
  assert.deepEqual(kept.place(sa, a, 0, 20, 20, 20), { start: 0, copy: false }, "a stays");
  assert.deepEqual(kept.place(sb, b, 0, 20, 20, 20), { start: 400, copy: true }, "b comes back in place of c (LRU)");
  kept.forget(sb);
  assert.equal(kept.place(sb, b, 0, 20, 20, 20), null, "forgotten: starts over");
  const large = new Float64Array(600);
  kept.place(sc, large, 0, 24, 25, 25);
  assert.equal(kept.place(sc, large, 0, 24, 25, 25), null, "larger than half the budget: never kept");
  const moved = new Float64Array(400);
  const sm = {};
  kept.place(sm, moved, 0, 20, 20, 20);
  assert.ok(kept.place(sm, moved, 0, 20, 20, 20) !== null);
  structuredClone(moved, { transfer: [moved.buffer] });
  assert.equal(kept.place(sm, moved, 0, 20, 20, 20), null, "its array detached: not served");
  // A reserved region (a sum being accumulated) is evicted like a copy, after its callback has run.
  const fresh = new ResidentMatrices(budget);
  let evicted = 0;
  const region = fresh.reserve(400, () => evicted++)!;
  assert.equal(
    fresh.reserve(600, () => {}),
    null,
    "larger than half the budget",
  );
  fresh.place(sa, a, 0, 20, 20, 20);
  assert.deepEqual(fresh.place(sa, a, 0, 20, 20, 20), { start: 400, copy: true });
  fresh.place(sb, b, 0, 20, 20, 20);
  fresh.place(sb, b, 0, 20, 20, 20);
  assert.equal(evicted, 1, "the reserved region, least recently used, was evicted");
  assert.equal(region.live, false);
  fresh.release(region);
  assert.equal(evicted, 1);
});

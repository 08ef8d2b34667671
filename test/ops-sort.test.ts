/**
 * sort, argsort, cumsum, and the internal gather/scatter pair along an axis: values against references,
 * stability, derivatives (finite differences, permutation Jacobian, transposes), second derivatives, errors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  sort,
  argsort,
  cumsum,
  cumprod,
  sum,
  mul,
  square,
  grad,
  vjp,
  jacfwd,
  jacrev,
  hessian,
  ValueError,
} from "../src/index.js";
import { gatherAlongAxis, scatterAddAlongAxis } from "../src/core/ops/sort.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

/** Splits `x` into lanes along `axis`: returns, for each lane, the flat indices of its elements in order. */
function lanes(shape: readonly number[], axis: number): number[][] {
  const ax = axis < 0 ? axis + shape.length : axis;
  let inner = 1;
  for (let i = ax + 1; i < shape.length; i++) inner *= shape[i]!;
  const len = shape[ax]!;
  const size = shape.reduce((a, b) => a * b, 1);
  const out: number[][] = [];
  for (let start = 0; start < size; start++) {
    if (Math.floor(start / inner) % len !== 0) continue;
    out.push(Array.from({ length: len }, (_, l) => start + l * inner));
  }
  return out;
}

/** Stable reference order of a lane: NaN last, ties by position. */
function refOrder(vals: number[]): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  return vals
    .map((v, i) => [v, i] as const)
    .sort((a, b) => {
      const na = Number.isNaN(a[0]);
      const nb = Number.isNaN(b[0]);
      if (na !== nb) return na ? 1 : -1;
      return key(a[0]) - key(b[0]) || a[1] - b[1];
    })
    .map(([, i]) => i);
}

function refArgsort(x: Tensor, axis: number): Float64Array {
  const out = new Float64Array(x.size);
  for (const lane of lanes(x.shape, axis)) {
    const order = refOrder(lane.map((k) => x.data[k]!));
    lane.forEach((k, j) => (out[k] = order[j]!));
  }
  return out;
}

function refSort(x: Tensor, axis: number): Float64Array {
  const out = new Float64Array(x.size);
  for (const lane of lanes(x.shape, axis)) {
    const order = refOrder(lane.map((k) => x.data[k]!));
    lane.forEach((k, j) => (out[k] = x.data[lane[order[j]!]!]!));
  }
  return out;
}

describe("sort and argsort", () => {
  const r = rng(31);
  const x = randn(r, [3, 4, 5]);
  for (const axis of [0, 1, 2, -1, -3]) {
    test(`axis ${axis}: values, order and derivatives`, () => {
      assertClose(sort(x, axis).data, refSort(x, axis), { rtol: 0, atol: 0 });
      assertClose(argsort(x, axis).data, refArgsort(x, axis), { rtol: 0, atol: 0 });
      checkDerivatives((z: Tensor) => sort(z, axis), [x], {}, `sort axis ${axis}`);
    });
  }
  test("default axis is the last", () => {
    assert.deepEqual(sort(x).toArray(), sort(x, 2).toArray());
    assert.deepEqual(argsort(x).toArray(), argsort(x, -1).toArray());
  });
  test("stable on ties, NaN last, ±Infinity in place", () => {
    const y = tensor([2, NaN, 1, 2, -Infinity, 1, Infinity, NaN, 0]);
    assert.deepEqual(argsort(y).toArray(), [4, 8, 2, 5, 0, 3, 6, 1, 7]);
    assert.deepEqual(sort(y).toArray(), [-Infinity, 0, 1, 1, 2, 2, Infinity, NaN, NaN]);
    const ties = tensor([
      [1, 0, 1, 0],
      [3, 3, 3, 3],
    ]);
    assert.deepEqual(argsort(ties).toArray(), [
      [1, 3, 0, 2],
      [0, 1, 2, 3],
    ]);
  });
  test("long lanes (merge passes) with many ties and NaNs match the stable reference", () => {
    for (const [shape, axis] of [
      [[1000], 0],
      [[97, 3], 0],
      [[2, 65], 1],
    ] as [number[], number][]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const y = tensor(
        Float64Array.from({ length: size }, () => {
          const u = r.uniform();
          return u < 0.05 ? NaN : Math.floor(u * 20) - 10;
        }),
        shape,
      );
      assertClose(argsort(y, axis).data, refArgsort(y, axis), { rtol: 0, atol: 0 }, `argsort ${shape}`);
      const sorted = sort(y, axis).data;
      const expected = refSort(y, axis);
      assert.ok(
        sorted.every((v, k) => Object.is(v, expected[k])),
        `sort ${shape}`,
      );
    }
  });
  test("the Jacobian of sort is the sorting permutation; argsort is a constant", () => {
    const v = randn(r, [6]);
    const perm = [...argsort(v).data];
    const P = new Float64Array(36);
    perm.forEach((p, k) => (P[k * 6 + p] = 1));
    assert.deepEqual([...(jacfwd(sort)(v) as Tensor).data], [...P]);
    assert.deepEqual([...(jacrev(sort)(v) as Tensor).data], [...P]);
    const g = grad((z: Tensor) => sum(mul(z, argsort(z))))(v) as Tensor;
    assert.deepEqual([...g.data], perm);
  });
  test("second derivative: ∇² Σ wₖ sort(x)ₖ² = diag(2 w_rank(i))", () => {
    const v = randn(r, [5]);
    const w = tensor([1, -2, 0.5, 3, -1]);
    const rank = new Array(5);
    [...argsort(v).data].forEach((p, k) => (rank[p] = k));
    const expected = new Float64Array(25);
    for (let i = 0; i < 5; i++) expected[i * 6] = 2 * w.data[rank[i]]!;
    const f = (z: Tensor) => sum(mul(w, square(sort(z))));
    assertClose((hessian(f)(v) as Tensor).data, expected, { rtol: 1e-15, atol: 0 });
    assertClose((jacrev(grad(f))(v) as Tensor).data, expected, { rtol: 1e-15, atol: 0 });
  });
  test("scalar or bad axis throws a ValueError naming the op", () => {
    assert.throws(
      () => sort(tensor(1)),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("sort:"),
    );
    assert.throws(
      () => argsort(tensor([1, 2]), 1),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("argsort:") && e.message.includes("axis 1"),
    );
    assert.throws(
      () => sort(x, 3),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("sort:"),
    );
  });
  test("method aliases", () => {
    assert.deepEqual(x.sort(0).toArray(), sort(x, 0).toArray());
    assert.deepEqual(x.argsort().toArray(), argsort(x).toArray());
  });
});

describe("gather and scatter along an axis (internal)", () => {
  const r = rng(32);
  const x = randn(r, [3, 4, 2]);
  // An index with repeats and a different length (6) along axis 1.
  const indexShape = [3, 6, 2];
  const index = Int32Array.from({ length: 36 }, () => Math.floor(r.uniform(0, 4)));
  test("gather picks x[o, index, i]; scatter is its transpose (adds repeats)", () => {
    const g = gatherAlongAxis(x, index, indexShape, 1);
    assert.deepEqual(g.shape, indexShape);
    for (let o = 0; o < 3; o++) {
      for (let k = 0; k < 6; k++) {
        for (let i = 0; i < 2; i++)
          assert.equal(g.data[(o * 6 + k) * 2 + i], x.data[(o * 4 + index[(o * 6 + k) * 2 + i]!) * 2 + i]);
      }
    }
    const y = randn(r, indexShape);
    const s = scatterAddAlongAxis(y, index, x.shape, 1);
    assert.deepEqual(s.shape, x.shape);
    let lhs = 0;
    let rhs = 0;
    for (let k = 0; k < g.size; k++) lhs += g.data[k]! * y.data[k]!;
    for (let k = 0; k < x.size; k++) rhs += x.data[k]! * s.data[k]!;
    assertClose(lhs, rhs, { rtol: 1e-14 });
  });
  test("derivatives of both, and nesting (their rules call each other)", () => {
    checkDerivatives((z: Tensor) => gatherAlongAxis(z, index, indexShape, 1), [x], {}, "gather");
    const y = randn(r, indexShape);
    checkDerivatives((z: Tensor) => scatterAddAlongAxis(z, index, x.shape, -2), [y], {}, "scatter");
    const f = (z: Tensor) => sum(square(gatherAlongAxis(z, index, indexShape, 1)));
    const H = hessian(f)(x) as Tensor;
    const fd = numericJacobian((z: Tensor) => grad(f)(z) as Tensor, [x], 0, 1e-5);
    assertClose(H.data, fd, { rtol: 1e-7, atol: 1e-8 });
  });
  test("bad index or shape throws a ValueError", () => {
    assert.throws(
      () => gatherAlongAxis(x, new Int32Array(12), [2, 2, 3], 1),
      (e: unknown) =>
        e instanceof ValueError && e.message.includes("index shape [2, 2, 3] must match [3, 4, 2] except along axis 1"),
    );
    assert.throws(
      () => gatherAlongAxis(x, Int32Array.of(0, -1, 0, 0, 0, 0), [3, 1, 2], 1),
      (e: unknown) => e instanceof ValueError && e.message.includes("index -1 is out of range for axis 1 of length 4"),
    );
  });
});

describe("cumsum", () => {
  const r = rng(33);
  const x = randn(r, [3, 4, 2]);
  const refCumsum = (t: Tensor, axis: number) => {
    const out = new Float64Array(t.size);
    for (const lane of lanes(t.shape, axis)) {
      let acc = 0;
      for (const k of lane) out[k] = acc += t.data[k]!;
    }
    return out;
  };
  for (const axis of [0, 1, 2, -1]) {
    test(`axis ${axis}: values and derivatives`, () => {
      const y = cumsum(x, axis);
      assert.deepEqual(y.shape, x.shape);
      assertClose(y.data, refCumsum(x, axis), { rtol: 1e-14, atol: 1e-15 });
      checkDerivatives((z: Tensor) => cumsum(z, axis), [x], {}, `cumsum axis ${axis}`);
    });
  }
  test("without axis: the flattened tensor (as NumPy)", () => {
    const y = cumsum(x);
    assert.deepEqual(y.shape, [24]);
    assertClose(y.data, refCumsum(tensor(x.data), 0), { rtol: 1e-14, atol: 1e-15 });
    assert.deepEqual(cumsum(tensor(3)).toArray(), [3]);
  });
  test("Jacobian is lower-triangular ones; the VJP is the reversed cumulative sum", () => {
    const v = randn(r, [4]);
    const L = Float64Array.from({ length: 16 }, (_, k) => (k % 4 <= Math.floor(k / 4) ? 1 : 0));
    assert.deepEqual([...(jacfwd(cumsum)(v) as Tensor).data], [...L]);
    const [, pullback] = vjp(cumsum, v);
    assertClose(pullback(tensor([1, 2, 3, 4]))[0] as Tensor, [10, 9, 7, 4], { rtol: 0, atol: 0 });
  });
  test("second derivatives vs finite differences of the gradient", () => {
    const w = randn(r, [3, 4, 2]);
    const f = (z: Tensor) => sum(mul(w, square(cumsum(z, 1))));
    const fd = numericJacobian((z: Tensor) => grad(f)(z) as Tensor, [x], 0, 1e-5);
    assertClose((hessian(f)(x) as Tensor).data, fd, { rtol: 1e-7, atol: 1e-8 });
  });
  test("bad axis throws a ValueError; method alias", () => {
    assert.throws(
      () => cumsum(x, 3),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("cumsum:"),
    );
    assert.throws(
      () => cumsum(tensor(1), 0),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("cumsum:"),
    );
    assert.deepEqual(x.cumsum(1).toArray(), cumsum(x, 1).toArray());
  });
});

describe("cumprod", () => {
  const r = rng(34);
  const refCumprod = (t: Tensor, axis: number) => {
    const out = new Float64Array(t.size);
    for (const lane of lanes(t.shape, axis)) {
      let acc = 1;
      for (const k of lane) out[k] = acc *= t.data[k]!;
    }
    return out;
  };
  const x = randn(r, [3, 5, 2]);
  for (const axis of [0, 1, 2, -1]) {
    test(`axis ${axis}: values and derivatives`, () => {
      const y = cumprod(x, axis);
      assert.deepEqual(y.shape, x.shape);
      assertClose(y.data, refCumprod(x, axis), { rtol: 1e-14, atol: 1e-15 });
      checkDerivatives((z: Tensor) => cumprod(z, axis), [x], {}, `cumprod axis ${axis}`);
    });
  }
  test("without axis: the flattened tensor; length-1 and scalar inputs", () => {
    assertClose(cumprod(x).data, refCumprod(tensor(x.data), 0), { rtol: 1e-14, atol: 1e-15 });
    assert.deepEqual(cumprod(tensor(3)).toArray(), [3]);
    assert.deepEqual(cumprod(tensor([[2, 3]]), 0).toArray(), [[2, 3]]);
  });
  test("zeros: the Jacobian is exact (products of the other entries up to k), and so is the Hessian", () => {
    for (const v of [
      [2, 0, 3, -1, 0.5, 4, 1.5],
      [0, 0, 3, -1, 2, 4, 1.5],
    ]) {
      const n = v.length;
      const partial = (k: number, skip: number[]) =>
        v.slice(0, k + 1).reduce((acc, a, j) => (skip.includes(j) ? acc : acc * a), 1);
      const J = Float64Array.from({ length: n * n }, (_, e) => {
        const k = Math.floor(e / n);
        const i = e % n;
        return i <= k ? partial(k, [i]) : 0;
      });
      assertClose((jacrev(cumprod)(tensor(v)) as Tensor).data, J, { rtol: 1e-15, atol: 0 });
      assertClose((jacfwd(cumprod)(tensor(v)) as Tensor).data, J, { rtol: 1e-15, atol: 0 });
      // ∂²(Σ_k cumprod_k)/∂x_i∂x_j = Σ_{k ≥ max(i, j)} Π_{l ≤ k, l ∉ {i, j}} x_l (i ≠ j).
      const H = Float64Array.from({ length: n * n }, (_, e) => {
        const i = Math.floor(e / n);
        const j = e % n;
        if (i === j) return 0;
        let acc = 0;
        for (let k = Math.max(i, j); k < n; k++) acc += partial(k, [i, j]);
        return acc;
      });
      assertClose((hessian((z: Tensor) => sum(cumprod(z)))(tensor(v)) as Tensor).data, H, { rtol: 1e-14, atol: 0 });
    }
  });
  test("bad axis throws a ValueError; method alias", () => {
    assert.throws(
      () => cumprod(x, -4),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("cumprod:"),
    );
    assert.deepEqual(x.cumprod(0).toArray(), cumprod(x, 0).toArray());
  });
});

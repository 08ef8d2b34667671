import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  zeros,
  arange,
  reshape,
  transpose,
  swapAxes,
  moveAxis,
  squeeze,
  expandDims,
  ravel,
  tile,
  repeat,
  broadcastTo,
  sum,
  mul,
  sin,
  grad,
  hessian,
  jacrev,
  ShapeError,
  ValueError,
} from "../src/index.js";
import { sumTo } from "../src/core/ops/broadcast.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(77);

function element(x: Tensor, idx: readonly number[]): number {
  let pos = 0;
  for (let i = 0; i < idx.length; i++) pos = pos * x.shape[i]! + idx[i]!;
  return x.data[pos]!;
}

/** Every multi-index of `shape`, row-major. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  for (let k = 0; k < n; k++) {
    const idx = new Array<number>(shape.length);
    let rem = k;
    for (let i = shape.length - 1; i >= 0; i--) {
      idx[i] = rem % shape[i]!;
      rem = Math.floor(rem / shape[i]!);
    }
    yield idx;
  }
}

/** Naive transpose: out[j] = x[k] with k[perm[i]] = j[i]. */
function naiveTranspose(x: Tensor, perm: readonly number[]): number[] {
  const outShape = perm.map((p) => x.shape[p]!);
  const out: number[] = [];
  for (const j of indices(outShape)) {
    const k = new Array<number>(perm.length);
    perm.forEach((p, i) => (k[p] = j[i]!));
    out.push(element(x, k));
  }
  return out;
}

function checkSecondOrder(f: (x: Tensor) => Tensor, x: Tensor): void {
  const g = (v: Tensor) => grad(f)(v) as Tensor;
  const fd = numericJacobian(g, [x]);
  const tol = { rtol: 1e-5, atol: 1e-6 };
  assertClose((hessian(f)(x) as Tensor).data, fd, tol, "hessian");
  assertClose((jacrev(g)(x) as Tensor).data, fd, tol, "jacrev of grad");
}

/** Σ w ⊙ sin(op(x)): a scalar whose Hessian exercises the op's rules under both transforms. */
function curved(op: (x: Tensor) => Tensor, x: Tensor): (x: Tensor) => Tensor {
  const w = randn(r, op(x).shape);
  return (a) => sum(mul(sin(op(a)), w));
}

describe("reshape", () => {
  test("keeps row-major order and infers -1", () => {
    const x = arange(6);
    assert.deepEqual(reshape(x, [2, 3]).toArray(), [
      [0, 1, 2],
      [3, 4, 5],
    ]);
    assert.deepEqual(reshape(x, [3, -1]).shape, [3, 2]);
    assert.deepEqual(reshape(x, [-1]).shape, [6]);
    assert.deepEqual(reshape(tensor([7]), []).shape, []);
    assert.equal(reshape(x, [6]), x);
    assert.equal(x.reshape([1, 6, 1]).size, 6);
  });

  test("errors name the shapes", () => {
    assert.throws(
      () => reshape(arange(6), [4, 2]),
      (e: Error) => e instanceof ShapeError && /reshape: cannot reshape \[6\] .*\[4, 2\]/.test(e.message),
    );
    assert.throws(
      () => reshape(arange(6), [4, -1]),
      (e: Error) => e instanceof ShapeError && /reshape: cannot infer -1 in \[4, -1\]/.test(e.message),
    );
    assert.throws(() => reshape(arange(6), [2, 1.5, 2]), ValueError);
    assert.throws(() => reshape(arange(6), [-1, -1]), ValueError);
  });

  test("derivatives", () => {
    const x = randn(r, [2, 3]);
    checkDerivatives((a) => reshape(a, [3, 1, 2]), [x]);
    checkSecondOrder(
      curved((a) => reshape(a, [6]), x),
      x,
    );
  });
});

describe("transpose", () => {
  test("every permutation of a 3-D tensor, against a naive loop", () => {
    const x = randn(r, [2, 3, 4]);
    const perms = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const p of perms) {
      const t = transpose(x, p);
      assert.deepEqual(
        t.shape,
        p.map((i) => x.shape[i]),
      );
      assert.deepEqual(Array.from(t.data), naiveTranspose(x, p), `perm ${p}`);
    }
    const x4 = randn(r, [2, 1, 3, 2]);
    assert.deepEqual(Array.from(transpose(x4, [3, 0, 2, 1]).data), naiveTranspose(x4, [3, 0, 2, 1]));
  });

  test("reverses axes by default; negative axes; .T", () => {
    const x = randn(r, [2, 3, 4]);
    assert.deepEqual(Array.from(transpose(x).data), naiveTranspose(x, [2, 1, 0]));
    assert.deepEqual(Array.from(transpose(x, [-1, 0, -2]).data), naiveTranspose(x, [2, 0, 1]));
    assert.deepEqual(Array.from(x.T.data), naiveTranspose(x, [2, 1, 0]));
    assert.deepEqual(
      tensor([[1, 2, 3]])
        .transpose()
        .toArray(),
      [[1], [2], [3]],
    );
  });

  test("errors", () => {
    const x = zeros([2, 3, 4]);
    assert.throws(
      () => transpose(x, [0, 1]),
      (e: Error) =>
        e instanceof ValueError && /transpose: axes \[0, 1\] are not a permutation of 3 axes/.test(e.message),
    );
    assert.throws(() => transpose(x, [0, 1, 1]), ValueError);
    assert.throws(
      () => transpose(x, [0, 1, 3]),
      (e: Error) => e instanceof ValueError && /transpose: axis 3/.test(e.message),
    );
  });

  test("derivatives", () => {
    const x = randn(r, [2, 3, 4]);
    checkDerivatives((a) => transpose(a, [1, 2, 0]), [x]);
    checkDerivatives((a) => transpose(a, [2, 0, 1]), [x]);
    checkSecondOrder(
      curved((a) => transpose(a, [2, 0, 1]), x),
      x,
    );
  });
});

describe("swapAxes, moveAxis", () => {
  const x = randn(r, [2, 3, 4]);
  test("values", () => {
    assert.deepEqual(Array.from(swapAxes(x, 0, 2).data), naiveTranspose(x, [2, 1, 0]));
    assert.deepEqual(Array.from(swapAxes(x, -1, 1).data), naiveTranspose(x, [0, 2, 1]));
    assert.equal(swapAxes(x, 1, 1), x);
    // numpy.moveaxis(x, 0, -1) → axes (1, 2, 0); moveaxis(x, -1, 0) → (2, 0, 1); moveaxis(x, [0, 1], [-1, -2]) → (2, 1, 0)
    assert.deepEqual(Array.from(moveAxis(x, 0, -1).data), naiveTranspose(x, [1, 2, 0]));
    assert.deepEqual(Array.from(moveAxis(x, -1, 0).data), naiveTranspose(x, [2, 0, 1]));
    assert.deepEqual(Array.from(moveAxis(x, [0, 1], [-1, -2]).data), naiveTranspose(x, [2, 1, 0]));
    assert.deepEqual(moveAxis(x, [0, 1], [2, 0]).shape, [3, 4, 2]);
    assert.deepEqual(x.swapAxes(0, 1).shape, [3, 2, 4]);
    assert.deepEqual(x.moveAxis(2, 0).shape, [4, 2, 3]);
  });

  test("errors", () => {
    assert.throws(
      () => swapAxes(x, 0, 3),
      (e: Error) => e instanceof ValueError && /swapAxes: axis 3/.test(e.message),
    );
    assert.throws(
      () => moveAxis(x, [0, 1], [1]),
      (e: Error) => e instanceof ValueError && /moveAxis: source has 2 axes but destination has 1/.test(e.message),
    );
    assert.throws(
      () => moveAxis(x, [0, 0], [1, 2]),
      (e: Error) => e instanceof ValueError && /moveAxis: repeated axis in source/.test(e.message),
    );
  });

  test("derivatives", () => {
    checkDerivatives((a) => swapAxes(a, 0, 2), [x]);
    checkDerivatives((a) => moveAxis(a, [0, 2], [1, 0]), [x]);
    checkSecondOrder(
      curved((a) => moveAxis(a, 0, -1), x),
      x,
    );
  });
});

describe("squeeze, expandDims, ravel", () => {
  test("values", () => {
    const x = randn(r, [1, 3, 1, 2]);
    assert.deepEqual(squeeze(x).shape, [3, 2]);
    assert.deepEqual(squeeze(x, 2).shape, [1, 3, 2]);
    assert.deepEqual(squeeze(x, [0, -2]).shape, [3, 2]);
    assert.deepEqual(Array.from(squeeze(x).data), Array.from(x.data));
    assert.deepEqual(squeeze(zeros([1, 1])).shape, []);
    assert.deepEqual(expandDims(zeros([2, 3]), 0).shape, [1, 2, 3]);
    assert.deepEqual(expandDims(zeros([2, 3]), -1).shape, [2, 3, 1]);
    assert.deepEqual(expandDims(zeros([2, 3]), [1, -1]).shape, [2, 1, 3, 1]);
    assert.deepEqual(expandDims(zeros([2, 3]), [0, 3]).shape, [1, 2, 3, 1]);
    assert.deepEqual(expandDims(tensor(5), [0, 1]).toArray(), [[5]]);
    assert.deepEqual(
      ravel(
        tensor([
          [1, 2],
          [3, 4],
        ]),
      ).toArray(),
      [1, 2, 3, 4],
    );
    assert.deepEqual(ravel(tensor(3)).shape, [1]);
    assert.deepEqual(x.squeeze(0).shape, [3, 1, 2]);
    assert.deepEqual(x.expandDims(1).shape, [1, 1, 3, 1, 2]);
    assert.deepEqual(x.ravel().shape, [6]);
  });

  test("errors", () => {
    const x = zeros([1, 3]);
    assert.throws(
      () => squeeze(x, 1),
      (e: Error) => e instanceof ShapeError && /squeeze: axis 1 of shape \[1, 3\] has length 3, not 1/.test(e.message),
    );
    assert.throws(() => squeeze(x, 2), ValueError);
    assert.throws(
      () => squeeze(x, [0, 0]),
      (e: Error) => e instanceof ValueError && /squeeze: repeated axis/.test(e.message),
    );
    assert.throws(
      () => expandDims(x, 3),
      (e: Error) => e instanceof ValueError && /expandDims: axis 3/.test(e.message),
    );
    assert.throws(() => expandDims(x, [1, 1]), ValueError);
  });

  test("derivatives", () => {
    const x = randn(r, [1, 3, 1, 2]);
    checkDerivatives((a) => squeeze(a), [x]);
    checkDerivatives((a) => expandDims(a, [0, 2]), [randn(r, [2, 2])]);
    checkDerivatives((a) => ravel(a), [x]);
    checkSecondOrder(
      curved((a) => squeeze(a, 0), x),
      x,
    );
  });
});

describe("tile, repeat", () => {
  test("values as numpy.tile / numpy.repeat", () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(tile(tensor([1, 2]), 2).toArray(), [1, 2, 1, 2]);
    assert.deepEqual(tile(tensor([1, 2]), [2, 1]).toArray(), [
      [1, 2],
      [1, 2],
    ]);
    assert.deepEqual(tile(a, [1, 2]).toArray(), [
      [1, 2, 1, 2],
      [3, 4, 3, 4],
    ]);
    assert.deepEqual(tile(a, 2).shape, [2, 4]);
    assert.deepEqual(tile(a, [2, 1, 1]).shape, [2, 2, 2]);
    assert.deepEqual(tile(a, [0, 1]).shape, [0, 2]);
    assert.deepEqual(repeat(a, 2).toArray(), [1, 1, 2, 2, 3, 3, 4, 4]);
    assert.deepEqual(repeat(a, 2, 0).toArray(), [
      [1, 2],
      [1, 2],
      [3, 4],
      [3, 4],
    ]);
    assert.deepEqual(repeat(a, 3, -1).toArray(), [
      [1, 1, 1, 2, 2, 2],
      [3, 3, 3, 4, 4, 4],
    ]);
    assert.deepEqual(a.tile([2]).shape, [2, 4]);
    assert.deepEqual(a.repeat(2, 1).shape, [2, 4]);
  });

  test("errors", () => {
    assert.throws(
      () => tile(zeros([2]), -1),
      (e: Error) => e instanceof ValueError && /tile: reps must be non-negative integers, got -1/.test(e.message),
    );
    assert.throws(
      () => repeat(zeros([2]), 1.5),
      (e: Error) => e instanceof ValueError && /repeat: repeats/.test(e.message),
    );
    assert.throws(() => repeat(zeros([2]), 2, 1), ValueError);
  });

  test("derivatives: the transposes sum the copies (closed form and finite differences)", () => {
    const x = randn(r, [2, 3]);
    assert.deepEqual((grad((a: Tensor) => sum(tile(a, [3, 2])))(x) as Tensor).toArray(), [
      [6, 6, 6],
      [6, 6, 6],
    ]);
    checkDerivatives((a) => tile(a, [2, 1, 2]), [x]);
    checkDerivatives((a) => repeat(a, 2, 1), [x]);
    checkDerivatives((a) => repeat(a, 3), [x]);
    checkSecondOrder(
      curved((a) => tile(a, 2), x),
      x,
    );
  });
});

describe("broadcastTo, sumTo", () => {
  test("broadcastTo follows NumPy rules", () => {
    assert.deepEqual(broadcastTo(tensor([1, 2]), [2, 2]).toArray(), [
      [1, 2],
      [1, 2],
    ]);
    const x = randn(r, [3, 1]);
    const b = broadcastTo(x, [2, 3, 4]);
    for (const [i, j, k] of indices([2, 3, 4])) assert.equal(element(b, [i!, j!, k!]), element(x, [j!, 0]));
    assert.deepEqual(broadcastTo(tensor(2), [2]).toArray(), [2, 2]);
    assert.equal(broadcastTo(x, [3, 1]), x);
  });

  test("broadcastTo's block copies (tiled rows, repeated columns, scalars) and index path agree with NumPy's rule", () => {
    const rr = rng(31);
    for (let trial = 0; trial < 200; trial++) {
      const nd = 1 + Math.floor(rr.uniform() * 4);
      const out = Array.from({ length: nd }, () => 1 + Math.floor(rr.uniform() * 4));
      const drop = Math.floor(rr.uniform() * (nd + 1));
      const inShape = out.slice(drop).map((d) => (rr.uniform() < 0.4 ? 1 : d));
      const x = randn(rr, inShape);
      const b = broadcastTo(x, out);
      assert.deepEqual(b.shape, out);
      for (const idx of indices(out)) {
        const src = idx.slice(drop).map((v, i) => (inShape[i] === 1 ? 0 : v!));
        assert.equal(element(b, idx as number[]), element(x, src), `${inShape} → ${out} at ${idx}`);
      }
    }
  });

  test("broadcastTo errors name the shapes", () => {
    assert.throws(
      () => broadcastTo(zeros([3]), [2, 2]),
      (e: Error) => e instanceof ShapeError && /broadcastTo: .*\[3\].*\[2, 2\]/.test(e.message),
    );
    assert.throws(
      () => broadcastTo(zeros([2, 3]), [3]),
      (e: Error) => e instanceof ShapeError && /broadcastTo: cannot broadcast \[2, 3\] to \[3\]/.test(e.message),
    );
    assert.throws(() => broadcastTo(zeros([2]), [2, 1]), ShapeError);
  });

  test("sumTo sums over broadcast axes", () => {
    assert.deepEqual(
      sumTo(
        tensor([
          [1, 2],
          [3, 4],
        ]),
        [2],
      ).toArray(),
      [4, 6],
    );
    assert.deepEqual(
      sumTo(
        tensor([
          [1, 2],
          [3, 4],
        ]),
        [2, 1],
      ).toArray(),
      [[3], [7]],
    );
    assert.deepEqual(
      sumTo(
        tensor([
          [1, 2],
          [3, 4],
        ]),
        [1, 2],
      ).toArray(),
      [[4, 6]],
    );
    assert.equal(
      sumTo(
        tensor([
          [1, 2],
          [3, 4],
        ]),
        [],
      ).item(),
      10,
    );
    const x = randn(r, [4, 2, 3]);
    const s = sumTo(x, [1, 3]);
    assert.deepEqual(s.shape, [1, 3]);
    for (let k = 0; k < 3; k++) {
      let acc = 0;
      for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) acc += element(x, [i, j, k]);
      assertClose(s.data[k]!, acc, { rtol: 1e-14, atol: 1e-14 });
    }
  });

  test("sumTo errors", () => {
    assert.throws(
      () => sumTo(zeros([2]), [2, 2]),
      (e: Error) => e instanceof ShapeError && /sumTo: .*\[2\].*\[2, 2\]/.test(e.message),
    );
    assert.throws(
      () => sumTo(zeros([2, 3]), [2]),
      (e: Error) => e instanceof ShapeError && /sumTo: \[2\] does not broadcast to \[2, 3\]/.test(e.message),
    );
  });

  test("each is the other's transpose: ⟨broadcastTo(x), y⟩ = ⟨x, sumTo(y)⟩", () => {
    const x = randn(r, [3, 1]);
    const y = randn(r, [2, 3, 4]);
    const bx = broadcastTo(x, y.shape);
    const sy = sumTo(y, x.shape);
    let lhs = 0;
    for (let i = 0; i < y.size; i++) lhs += bx.data[i]! * y.data[i]!;
    let rhs = 0;
    for (let i = 0; i < x.size; i++) rhs += x.data[i]! * sy.data[i]!;
    assertClose(lhs, rhs, { rtol: 1e-12, atol: 1e-12 });
  });

  test("derivatives", () => {
    const x = randn(r, [3, 1]);
    checkDerivatives((a) => broadcastTo(a, [2, 3, 4]), [x]);
    checkDerivatives((a) => sumTo(a, [1, 4]), [randn(r, [2, 3, 4])]);
    checkSecondOrder(
      curved((a) => broadcastTo(a, [2, 3, 2]), x),
      x,
    );
    const y = randn(r, [2, 3]);
    checkSecondOrder(
      curved((a) => sumTo(a, [3]), y),
      y,
    );
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  zeros,
  arange,
  reshape,
  concatenate,
  stack,
  split,
  sum,
  mul,
  sin,
  exp,
  grad,
  hessian,
  jacrev,
  ShapeError,
  ValueError,
  stopGradient,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(13);

function element(x: Tensor, idx: readonly number[]): number {
  let pos = 0;
  for (let i = 0; i < idx.length; i++) pos = pos * x.shape[i]! + idx[i]!;
  return x.data[pos]!;
}

/** Naive concatenation of 3-D tensors along `axis`, element by element. */
function naiveConcat3(xs: Tensor[], axis: number): { shape: number[]; data: number[] } {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
  const data: number[] = [];
  for (let i = 0; i < shape[0]!; i++) {
    for (let j = 0; j < shape[1]!; j++) {
      for (let k = 0; k < shape[2]!; k++) {
        const idx = [i, j, k];
        let pos = idx[axis]!;
        let piece = 0;
        while (pos >= xs[piece]!.shape[axis]!) pos -= xs[piece++]!.shape[axis]!;
        idx[axis] = pos;
        data.push(element(xs[piece]!, idx));
      }
    }
  }
  return { shape, data };
}

describe("concatenate", () => {
  test("along every axis of 3-D tensors (positive and negative), against a naive loop", () => {
    for (const axis of [0, 1, 2, -1, -3]) {
      const ax = axis < 0 ? axis + 3 : axis;
      const shapes = [2, 1, 3].map((n) => {
        const s = [2, 3, 4];
        s[ax] = n;
        return s;
      });
      const xs = shapes.map((s) => randn(r, s));
      const c = concatenate(xs, axis);
      const expected = naiveConcat3(xs, ax);
      assert.deepEqual(c.shape, expected.shape);
      assert.deepEqual(Array.from(c.data), expected.data, `axis ${axis}`);
    }
  });

  test("small cases, zero-length pieces and a single tensor", () => {
    assert.deepEqual(concatenate([tensor([1, 2]), tensor([3])]).toArray(), [1, 2, 3]);
    assert.deepEqual(concatenate([tensor([[1], [2]]), tensor([[3], [4]])], 1).toArray(), [
      [1, 3],
      [2, 4],
    ]);
    assert.deepEqual(concatenate([tensor([1, 2]), zeros([0]), tensor([3])]).toArray(), [1, 2, 3]);
    const x = tensor([1, 2]);
    assert.equal(concatenate([x]), x);
  });

  test("traced and constant pieces give the same values as concrete ones", () => {
    const a = randn(r, [2, 3]);
    const b = randn(r, [2, 1]);
    const concrete = concatenate([a, b, a], 1);
    let traced: Tensor | null = null;
    grad((p: Tensor) => {
      traced = concatenate([p, b, p], 1);
      return sum(traced);
    })(a);
    assert.deepEqual(Array.from(stopGradient(traced!).data), Array.from(concrete.data));
  });

  test("errors name the op and the shapes", () => {
    assert.throws(
      () => concatenate([]),
      (e: Error) => e instanceof ValueError && /concatenate: need at least one tensor/.test(e.message),
    );
    assert.throws(
      () => concatenate([zeros([2, 3]), zeros([2, 4])], 0),
      (e: Error) =>
        e instanceof ShapeError &&
        /concatenate: tensor 1 has shape \[2, 4\], incompatible with \[2, 3\] along axis 0/.test(e.message),
    );
    assert.throws(() => concatenate([zeros([2, 3]), zeros([3])], 1), ShapeError);
    assert.throws(
      () => concatenate([tensor(1), tensor(2)]),
      (e: Error) => e instanceof ShapeError && /concatenate: cannot concatenate scalars/.test(e.message),
    );
    assert.throws(
      () => concatenate([zeros([2]), zeros([2])], 1),
      (e: Error) => e instanceof ValueError && /concatenate: axis 1/.test(e.message),
    );
  });

  test("derivatives through traced inputs, first and second order", () => {
    const a = randn(r, [2, 3]);
    const b = randn(r, [2, 2]);
    checkDerivatives((p, q) => concatenate([sin(p), q, p], -1), [a, b]);
    checkDerivatives((p, q) => concatenate([p, mul(q, q)], 0), [a, randn(r, [1, 3])]);
    // Gradient of Σ w ⊙ concat: each piece gets its block of w.
    const w = randn(r, [2, 5]);
    const [ga, gb] = grad((p: Tensor, q: Tensor) => sum(mul(concatenate([p, q], 1), w)), { argnums: [0, 1] })(
      a,
      b,
    ) as Tensor[];
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) assert.equal(element(ga!, [i, j]), element(w, [i, j]));
      for (let j = 0; j < 2; j++) assert.equal(element(gb!, [i, j]), element(w, [i, 3 + j]));
    }
    const f = (p: Tensor) => sum(mul(exp(concatenate([p, mul(p, p)], 0)), randn(rng(1), [4, 3])));
    const g = (p: Tensor) => grad(f)(p) as Tensor;
    const x = randn(r, [2, 3]);
    assertClose((hessian(f)(x) as Tensor).data, numericJacobian(g, [x]), { rtol: 1e-5, atol: 1e-6 });
    assertClose((jacrev(g)(x) as Tensor).data, numericJacobian(g, [x]), { rtol: 1e-5, atol: 1e-6 });
  });
});

describe("stack", () => {
  test("along a new axis at every position, including negative ones", () => {
    const xs = [randn(r, [2, 3]), randn(r, [2, 3]), randn(r, [2, 3]), randn(r, [2, 3])];
    const cases: [number, number[]][] = [
      [0, [4, 2, 3]],
      [1, [2, 4, 3]],
      [2, [2, 3, 4]],
      [-1, [2, 3, 4]],
      [-3, [4, 2, 3]],
    ];
    for (const [axis, shape] of cases) {
      const s = stack(xs, axis);
      assert.deepEqual(s.shape, shape);
      const ax = axis < 0 ? axis + 3 : axis;
      for (let n = 0; n < 4; n++) {
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 3; j++) {
            const idx = [i, j];
            idx.splice(ax, 0, n);
            assert.equal(element(s, idx), element(xs[n]!, [i, j]));
          }
        }
      }
    }
    assert.deepEqual(stack([tensor(1), tensor(2)]).toArray(), [1, 2]);
  });

  test("errors", () => {
    assert.throws(() => stack([]), ValueError);
    assert.throws(
      () => stack([zeros([2]), zeros([3])]),
      (e: Error) => e instanceof ShapeError && /stack: tensor 1 has shape \[3\], expected \[2\]/.test(e.message),
    );
    assert.throws(
      () => stack([zeros([2]), zeros([2])], 2),
      (e: Error) => e instanceof ValueError && /stack: axis 2/.test(e.message),
    );
  });

  test("derivatives through traced inputs", () => {
    checkDerivatives((p, q) => stack([p, sin(q), p], -1), [randn(r, [2, 2]), randn(r, [2, 2])]);
    checkDerivatives((p) => stack([p, mul(p, p)], 1), [randn(r, [3])]);
  });
});

describe("split", () => {
  test("into equal sections and at indices, on positive and negative axes", () => {
    assert.deepEqual(
      split(arange(6), 3).map((t) => t.toArray()),
      [
        [0, 1],
        [2, 3],
        [4, 5],
      ],
    );
    assert.deepEqual(
      split(arange(5), [2]).map((t) => t.toArray()),
      [
        [0, 1],
        [2, 3, 4],
      ],
    );
    assert.deepEqual(
      split(arange(5), [0, 2, 2, 5]).map((t) => t.toArray()),
      [[], [0, 1], [], [2, 3, 4], []],
    );
    const x = reshape(arange(24), [2, 3, 4]);
    const parts = split(x, [1, 3], -1);
    assert.deepEqual(
      parts.map((p) => p.shape),
      [
        [2, 3, 1],
        [2, 3, 2],
        [2, 3, 1],
      ],
    );
    assert.equal(element(parts[1]!, [1, 2, 1]), element(x, [1, 2, 2]));
    const rows = split(x, 3, 1);
    assert.deepEqual(rows[2]!.toArray(), [[[8, 9, 10, 11]], [[20, 21, 22, 23]]]);
    // concatenate undoes split
    assert.deepEqual(Array.from(concatenate(split(x, [2], 2), 2).data), Array.from(x.data));
  });

  test("⟨concatenate(xs), y⟩ = Σ ⟨xᵢ, split(y)ᵢ⟩: split is the transpose of concatenate", () => {
    for (const axis of [0, 1, -1]) {
      const ax = axis < 0 ? axis + 3 : axis;
      const widths = [1, 3, 2];
      const xs = widths.map((w) => {
        const s = [2, 3, 4];
        s[ax] = w;
        return randn(r, s);
      });
      const c = concatenate(xs, axis);
      const y = randn(r, c.shape);
      const pieces = split(y, [1, 4], axis);
      const lhs = c.mul(y).sum().item();
      const rhs = xs.reduce((acc, x, i) => acc + x.mul(pieces[i]!).sum().item(), 0);
      assertClose(lhs, rhs, { rtol: 1e-12, atol: 1e-12 }, `axis ${axis}`);
    }
  });

  test("errors", () => {
    assert.throws(
      () => split(arange(5), 2),
      (e: Error) =>
        e instanceof ValueError && /split: axis 0 of length 5 does not split into 2 equal sections/.test(e.message),
    );
    assert.throws(
      () => split(arange(5), [3, 1]),
      (e: Error) => e instanceof ValueError && /split: indices \[3, 1\] must be sorted/.test(e.message),
    );
    assert.throws(() => split(arange(5), [6]), ValueError);
    assert.throws(() => split(arange(5), 1, 1), ValueError);
  });

  test("derivatives through traced inputs", () => {
    const x = randn(r, [3, 4]);
    checkDerivatives((a) => split(sin(a), [1, 3], -1)[1]!, [x]);
    checkDerivatives((a) => mul(split(a, 3, 0)[0]!, split(a, 3, 0)[2]!), [x]);
    // Gradient of the middle piece: ones on its block, zeros elsewhere.
    const g = grad((a: Tensor) => sum(split(a, [1, 3], 1)[1]!))(x) as Tensor;
    assert.deepEqual(g.toArray(), [
      [0, 1, 1, 0],
      [0, 1, 1, 0],
      [0, 1, 1, 0],
    ]);
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  zeros,
  arange,
  reshape,
  slice,
  take,
  scatterAdd,
  at,
  IndexUpdateRef,
  sum,
  mul,
  sin,
  grad,
  hessian,
  jacfwd,
  jacrev,
  vjp,
  ShapeError,
  ValueError,
  type SliceSpec,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(2024);

/** Value of a row-major array of `shape` at a multi-index. */
function element(x: Tensor, idx: readonly number[]): number {
  let pos = 0;
  for (let i = 0; i < idx.length; i++) pos = pos * x.shape[i]! + idx[i]!;
  return x.data[pos]!;
}

function inner(a: Tensor, b: Tensor): number {
  assert.equal(a.size, b.size);
  let s = 0;
  for (let i = 0; i < a.size; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

/** Checks the Hessian of `f` (jacfwd∘jacrev and jacrev∘jacrev) against finite differences of its gradient. */
function checkSecondOrder(f: (x: Tensor) => Tensor, x: Tensor): void {
  const g = (v: Tensor) => grad(f)(v) as Tensor;
  const fd = numericJacobian(g, [x]);
  const tol = { rtol: 1e-5, atol: 1e-6 };
  assertClose((hessian(f)(x) as Tensor).data, fd, tol, "hessian");
  assertClose((jacrev(g)(x) as Tensor).data, fd, tol, "jacrev of grad");
}

describe("slice", () => {
  const v = arange(6);
  // Expected values are Python's list(range(6))[start:stop:step].
  const cases: [SliceSpec, number[]][] = [
    [
      [1, 4],
      [1, 2, 3],
    ],
    [
      [null, null, 2],
      [0, 2, 4],
    ],
    [[-2], [4, 5]],
    [
      [null, -1],
      [0, 1, 2, 3, 4],
    ],
    [
      [null, null, -1],
      [5, 4, 3, 2, 1, 0],
    ],
    [
      [4, 1, -1],
      [4, 3, 2],
    ],
    [
      [-1, -4, -2],
      [5, 3],
    ],
    [[10], []],
    [
      [-10, 3],
      [0, 1, 2],
    ],
    [[3, 1], []],
    [
      [null, -10, -1],
      [5, 4, 3, 2, 1, 0],
    ],
    [
      [10, null, -2],
      [5, 3, 1],
    ],
    [
      [1, 100, 3],
      [1, 4],
    ],
    [
      [-100, 100],
      [0, 1, 2, 3, 4, 5],
    ],
    [
      [5, -7, -1],
      [5, 4, 3, 2, 1, 0],
    ],
    [[2, 2], []],
    [
      [0, 5, 4],
      [0, 4],
    ],
    [
      [-3, null, -3],
      [3, 0],
    ],
    [null, [0, 1, 2, 3, 4, 5]],
  ];
  for (const [spec, expected] of cases) {
    test(`1-D ${JSON.stringify(spec)}`, () => {
      const s = slice(v, spec);
      assert.deepEqual(s.shape, [expected.length]);
      assert.deepEqual(Array.from(s.data), expected);
    });
  }

  test("integer indices drop their axis; negative ones count from the end", () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(slice(x, 1).toArray(), [4, 5, 6]);
    assert.deepEqual(slice(x, -2).toArray(), [1, 2, 3]);
    assert.deepEqual(slice(x, null, -1).toArray(), [3, 6]);
    const s = slice(x, 1, 2);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 6);
    assert.deepEqual(slice(x, [0, 1], [null, null, 2]).toArray(), [[1, 3]]);
  });

  test("3-D mixed specs agree with an element-by-element reference", () => {
    const x = randn(r, [4, 5, 6]);
    const combos: SliceSpec[][] = [
      [[1, 3], 2, [null, null, -2]],
      [-1, [4, 0, -2]],
      [null, [1, null, 3], 5],
      [[null, null, -1], [-2], [1, 5, 2]],
      [2],
      [],
    ];
    for (const specs of combos) {
      // Per-axis index lists from the (already checked) 1-D behaviour; null marks a dropped axis.
      const perAxis = x.shape.map((n, axis) => {
        const spec = specs[axis] ?? null;
        if (typeof spec === "number") return { keep: false, idx: [spec < 0 ? spec + n : spec] };
        return { keep: true, idx: Array.from(slice(arange(n), spec).data) };
      });
      const s = slice(x, ...specs);
      assert.deepEqual(
        s.shape,
        perAxis.filter((a) => a.keep).map((a) => a.idx.length),
      );
      const expected: number[] = [];
      for (const i of perAxis[0]!.idx)
        for (const j of perAxis[1]!.idx) for (const k of perAxis[2]!.idx) expected.push(element(x, [i, j, k]));
      assert.deepEqual(Array.from(s.data), expected);
    }
  });

  test("selecting everything returns the input itself", () => {
    const x = randn(r, [2, 3]);
    assert.equal(slice(x), x);
    assert.equal(slice(x, null, [0, 3, 1]), x);
  });

  test("errors name the op, axis, index and length", () => {
    const x = zeros([2, 3]);
    assert.throws(
      () => slice(x, 0, 3),
      (e: Error) => e instanceof ValueError && /slice: index 3 .*axis 1 of length 3/.test(e.message),
    );
    assert.throws(
      () => slice(x, -3),
      (e: Error) => e instanceof ValueError && /index -3 .*axis 0 of length 2/.test(e.message),
    );
    assert.throws(() => slice(x, 0.5), ValueError);
    assert.throws(
      () => slice(x, null, [0, 2, 0]),
      (e: Error) => e instanceof ValueError && /step for axis 1 must not be zero/.test(e.message),
    );
    assert.throws(() => slice(x, [0.5, 2]), ValueError);
    assert.throws(
      () => slice(x, 0, 0, 0),
      (e: Error) => e instanceof ShapeError && /slice: 3 indices .*\[2, 3\]/.test(e.message),
    );
    assert.throws(
      () => slice(x, new Int32Array([0]) as unknown as SliceSpec),
      (e: Error) => e instanceof ValueError && /use take or at/.test(e.message),
    );
  });

  test("derivatives against finite differences, first and second order", () => {
    const x = randn(r, [3, 4, 5]);
    checkDerivatives((a) => slice(a, [2, 0, -1], 1, [null, null, 2]), [x]);
    checkDerivatives((a) => slice(a, -1), [x]);
    const w = randn(r, [2, 3]);
    checkSecondOrder((a) => sum(mul(sin(slice(a, [null, null, -2], 2, [1, 4])), w)), x);
  });

  test("the transpose is a scatter into zeros", () => {
    const x = randn(r, [3, 4]);
    const [, pullback] = vjp((a: Tensor) => slice(a, [1], [null, null, -2]), x);
    const [g] = pullback(
      tensor([
        [1, 2],
        [3, 4],
      ]),
    ) as Tensor[];
    assert.deepEqual(g!.toArray(), [
      [0, 0, 0, 0],
      [0, 2, 0, 1],
      [0, 4, 0, 3],
    ]);
  });

  test("⟨slice(x), y⟩ = ⟨x, at(zeros).add(y)⟩ for random specs", () => {
    const pr = rng(99);
    const pick = (n: number): SliceSpec => {
      const u = pr.uniform();
      if (u < 0.2) return Math.floor(pr.uniform(-n, n));
      if (u < 0.3) return null;
      const bound = () => (pr.uniform() < 0.25 ? null : Math.floor(pr.uniform(-n - 2, n + 2)));
      const step = Math.floor(pr.uniform(1, 4)) * (pr.uniform() < 0.5 ? -1 : 1);
      return [bound(), bound(), step];
    };
    for (let trial = 0; trial < 40; trial++) {
      const shape = [
        1 + Math.floor(pr.uniform(0, 5)),
        1 + Math.floor(pr.uniform(0, 5)),
        1 + Math.floor(pr.uniform(0, 4)),
      ];
      const specs = shape.map(pick);
      const x = randn(r, shape);
      const s = slice(x, ...specs);
      const y = randn(r, s.shape);
      assertClose(inner(s, y), inner(x, at(zeros(shape), ...specs).add(y)), { rtol: 1e-12, atol: 1e-12 });
    }
  });
});

describe("take and scatterAdd", () => {
  test("gathers along an axis, like numpy.take", () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(take(x, [2, 0, 2], 1).toArray(), [
      [3, 1, 3],
      [6, 4, 6],
    ]);
    assert.deepEqual(take(x, [1], 0).toArray(), [[4, 5, 6]]);
    assert.deepEqual(take(x, [-1, 0], -1).toArray(), [
      [3, 1],
      [6, 4],
    ]);
    assert.deepEqual(take(x, new Int32Array([1, 1])).toArray(), [2, 2]);
    assert.deepEqual(take(x, [5, 0, -6]).toArray(), [6, 1, 1]);
    const s = take(x, 1, 1);
    assert.deepEqual(s.toArray(), [2, 5]);
    assert.equal(take(x, 4).item(), 5);
  });

  test("a tensor of indices puts its shape in place of the axis", () => {
    const x = randn(r, [3, 4, 2]);
    const idx = tensor([
      [3, 0, 1],
      [2, 2, 0],
    ]);
    const t = take(x, idx, 1);
    assert.deepEqual(t.shape, [3, 2, 3, 2]);
    for (let i = 0; i < 3; i++) {
      for (let a = 0; a < 2; a++) {
        for (let b = 0; b < 3; b++) {
          for (let k = 0; k < 2; k++) {
            assert.equal(element(t, [i, a, b, k]), element(x, [i, element(idx, [a, b]), k]));
          }
        }
      }
    }
    assert.deepEqual(take(x, idx).shape, [2, 3]);
    assert.equal(element(take(x, idx), [0, 0]), x.data[3]);
  });

  test("bad indices are ValueErrors naming the problem", () => {
    const x = zeros([2, 3]);
    assert.throws(
      () => take(x, [3], 1),
      (e: Error) => e instanceof ValueError && /take: index 3 is out of range for axis 1 of length 3/.test(e.message),
    );
    assert.throws(
      () => take(x, [-7]),
      (e: Error) =>
        e instanceof ValueError &&
        /take: index -7 is out of range for the flattened tensor of length 6/.test(e.message),
    );
    assert.throws(
      () => take(x, [0.5], 0),
      (e: Error) => e instanceof ValueError && /must be an integer, got 0.5/.test(e.message),
    );
    assert.throws(() => take(x, tensor([NaN]), 0), ValueError);
    assert.throws(
      () => take(x, [0], 2),
      (e: Error) => e instanceof ValueError && /take: axis 2/.test(e.message),
    );
    assert.throws(
      () => scatterAdd(x, [0], zeros([1, 2]), 1),
      (e: Error) => e instanceof ShapeError && /scatterAdd: updates of shape \[1, 2\]/.test(e.message),
    );
    assert.throws(() => scatterAdd(x, [9], 1, 1), ValueError);
  });

  test("scatterAdd accumulates repeated indices and broadcasts updates", () => {
    assert.deepEqual(scatterAdd(zeros([3]), [0, 2, 0], tensor([1, 2, 3])).toArray(), [4, 0, 2]);
    const target = tensor([
      [1, 1, 1],
      [1, 1, 1],
    ]);
    assert.deepEqual(scatterAdd(target, [2, 2, -3], tensor([10, 20, 30]), 1).toArray(), [
      [31, 1, 31],
      [31, 1, 31],
    ]);
    assert.deepEqual(scatterAdd(target, [1], 5, 0).toArray(), [
      [1, 1, 1],
      [6, 6, 6],
    ]);
  });

  test("⟨take(x, i, axis), y⟩ = ⟨x, scatterAdd(0, i, y, axis)⟩ (random shapes, axes, repeated indices)", () => {
    const pr = rng(5);
    for (let trial = 0; trial < 60; trial++) {
      const nd = 1 + Math.floor(pr.uniform(0, 3));
      const shape = Array.from({ length: nd }, () => 1 + Math.floor(pr.uniform(0, 4)));
      const useAxis = pr.uniform() < 0.75;
      const axis = useAxis ? Math.floor(pr.uniform(-nd, nd)) : undefined;
      const len = axis === undefined ? shape.reduce((a, b) => a * b, 1) : shape[axis < 0 ? axis + nd : axis]!;
      const idxShape = pr.uniform() < 0.5 ? [Math.floor(pr.uniform(0, 6))] : [2, Math.floor(pr.uniform(1, 4))];
      const n = idxShape.reduce((a, b) => a * b, 1);
      const idx = tensor(
        Float64Array.from({ length: n }, () => Math.floor(pr.uniform(-len, len))),
        idxShape,
      );
      const x = randn(r, shape);
      const tx = take(x, idx, axis);
      const y = randn(r, tx.shape);
      const back = scatterAdd(zeros(shape), idx, y, axis);
      assert.deepEqual(back.shape, shape);
      assertClose(inner(tx, y), inner(x, back), { rtol: 1e-12, atol: 1e-12 }, `trial ${trial}`);
    }
  });

  test("derivatives of take and scatterAdd against finite differences", () => {
    const x = randn(r, [3, 4]);
    checkDerivatives((a) => take(a, [3, 0, 3, -1], 1), [x]);
    checkDerivatives(
      (a) =>
        take(
          a,
          tensor([
            [0, 11],
            [5, 5],
          ]),
        ),
      [x],
    );
    const upd = randn(r, [3, 2]);
    checkDerivatives((t, u) => scatterAdd(t, [1, 1], u, 1), [x, upd]);
    checkDerivatives((t, u) => scatterAdd(t, [2, 0, 2], u), [x, randn(r, [3])]);
  });

  test("the gradient of take counts repeated indices (closed form)", () => {
    const x = randn(r, [4]);
    const g = grad((a: Tensor) => sum(take(a, [1, 3, 1, 1])))(x) as Tensor;
    assert.deepEqual(g.toArray(), [0, 3, 0, 1]);
  });

  test("derivatives of any order: second order, and a third derivative", () => {
    const x = randn(r, [3, 3]);
    const w = randn(r, [2, 3]);
    checkSecondOrder((a) => sum(mul(sin(take(a, [2, 0], 0)), w)), x);
    checkSecondOrder((a) => sum(mul(sin(scatterAdd(a, [1, 1, 0], mul(a, a).slice(0), 1)), x)), x);
    // d³/dx³ of Σ take(x, i)³ is 6·(count of i) on the diagonal.
    const v = randn(r, [3]);
    const f = (a: Tensor) => sum(mul(mul(take(a, [0, 2, 2]), take(a, [0, 2, 2])), take(a, [0, 2, 2])));
    const third = jacfwd(hessian(f))(v) as Tensor;
    const expected = new Float64Array(27);
    expected[0] = 6;
    expected[26] = 12;
    assertClose(third.data, expected, { rtol: 1e-12, atol: 1e-12 });
  });

  test("method alias", () => {
    assert.deepEqual(tensor([5, 6, 7]).take([2, 0]).toArray(), [7, 5]);
  });
});

describe("at: functional updates", () => {
  const x = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);

  test("get, set, add and mul on basic indices", () => {
    assert.deepEqual(at(x, 1).get().toArray(), [4, 5, 6]);
    assert.deepEqual(at(x, null, [null, null, 2]).set(0).toArray(), [
      [0, 2, 0],
      [0, 5, 0],
    ]);
    assert.deepEqual(
      at(x, 0)
        .set(tensor([7, 8, 9]))
        .toArray(),
      [
        [7, 8, 9],
        [4, 5, 6],
      ],
    );
    assert.deepEqual(at(x, -1, -1).add(10).toArray(), [
      [1, 2, 3],
      [4, 5, 16],
    ]);
    assert.deepEqual(
      at(x, null, [1])
        .mul(tensor([[2, 3]]))
        .toArray(),
      [
        [1, 4, 9],
        [4, 10, 18],
      ],
    );
    assert.deepEqual(x.toArray(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.ok(x.at(0) instanceof IndexUpdateRef);
    assert.equal(x.at().get(), x);
  });

  test("set replaces non-finite values without producing NaN", () => {
    const y = tensor([Infinity, NaN, 1]);
    assert.deepEqual(at(y, [0, 2]).set(0).toArray(), [0, 0, 1]);
  });

  test("an index array on one axis, with NumPy's placement of its axes", () => {
    const z = reshape(arange(24), [2, 3, 4]);
    const idx = new Int32Array([2, 0]);
    const mid = at(z, null, idx).get();
    assert.deepEqual(mid.shape, [2, 2, 4]);
    assert.equal(element(mid, [1, 0, 3]), element(z, [1, 2, 3]));
    // Adjacent integer and array indices: the array's axis stays in place.
    const adj = at(z, 1, idx).get();
    assert.deepEqual(adj.shape, [2, 4]);
    assert.equal(element(adj, [0, 1]), element(z, [1, 2, 1]));
    // Integer and array separated by a range: the array's axis comes first (numpy: z[1, :, [2, 0]].shape == (2, 3)).
    const sep = at(z, 1, null, tensor([2, 0])).get();
    assert.deepEqual(sep.shape, [2, 3]);
    assert.equal(element(sep, [0, 1]), element(z, [1, 1, 2]));
    assert.equal(element(sep, [1, 2]), element(z, [1, 2, 0]));
    // A 2-D index array.
    const two = at(
      z,
      null,
      null,
      tensor([
        [0, 1],
        [3, 3],
      ]),
    ).get();
    assert.deepEqual(two.shape, [2, 3, 2, 2]);
    assert.equal(element(two, [1, 2, 1, 0]), element(z, [1, 2, 3]));
    // Updates through an index array.
    assert.deepEqual(
      at(tensor([1, 2, 3]), new Int32Array([0, 0, 2]))
        .add(tensor([1, 2, 3]))
        .toArray(),
      [4, 2, 6],
    );
    assert.deepEqual(
      at(tensor([1, 2, 3]), tensor([2, 0]))
        .set(tensor([7, 8]))
        .toArray(),
      [8, 2, 7],
    );
  });

  test("errors", () => {
    const dup = new Int32Array([1, 1]);
    assert.throws(
      () => at(x, null, dup).set(0),
      (e: Error) => e instanceof ValueError && /at\(...\).set: .*repeats an index/.test(e.message),
    );
    assert.throws(() => at(x, null, dup).mul(2), ValueError);
    assert.throws(
      () => at(x, 0).set(tensor([1, 2])),
      (e: Error) => e instanceof ShapeError && /at\(...\).set: value of shape \[2\] .*\[3\]/.test(e.message),
    );
    assert.throws(
      () => at(x, dup, dup),
      (e: Error) => e instanceof ValueError && /at most one axis/.test(e.message),
    );
    assert.throws(
      () => at(x, 2),
      (e: Error) => e instanceof ValueError && /at: index 2 is out of range for axis 0 of length 2/.test(e.message),
    );
    assert.throws(() => at(x, null, new Int32Array([3])), ValueError);
  });

  test("set: derivatives in x and in the value (closed form and finite differences)", () => {
    const a = randn(r, [3, 4]);
    const v = randn(r, [4]);
    const w = randn(r, [3, 4]);
    const f = (p: Tensor, q: Tensor) => sum(mul(at(p, [0, 3, 2]).set(q), w));
    const [gx, gv] = grad(f, { argnums: [0, 1] })(a, v) as Tensor[];
    // x's gradient is w with rows 0 and 2 zeroed; v's is the sum of those rows of w.
    const expectedGx = w.toFloat64Array();
    expectedGx.fill(0, 0, 4);
    expectedGx.fill(0, 8, 12);
    assertClose(gx!.data, expectedGx, { rtol: 0, atol: 0 });
    const rows = [0, 2];
    assertClose(
      gv!.data,
      Float64Array.from({ length: 4 }, (_, j) => rows.reduce((s, i) => s + w.data[i * 4 + j]!, 0)),
      { rtol: 1e-12, atol: 1e-12 },
    );
    checkDerivatives((p, q) => at(p, [0, 3, 2]).set(q), [a, v]);
    checkDerivatives((p, q) => at(p, null, tensor([3, 1])).set(q), [a, randn(r, [3, 1])]);
  });

  test("add and mul: derivatives in x and in the value", () => {
    const a = randn(r, [3, 4]);
    checkDerivatives((p, q) => at(p, 1, [null, null, -1]).add(q), [a, randn(r, [4])]);
    checkDerivatives((p, q) => at(p, new Int32Array([2, 2, 0])).add(q), [a, randn(r, [3, 4])]);
    checkDerivatives((p, q) => at(p, [1], -2).mul(q), [a, randn(r, [2])]);
  });

  test("second derivatives through set and mul", () => {
    const a = randn(r, [2, 3]);
    const w = randn(r, [2, 3]);
    checkSecondOrder((p) => sum(mul(sin(at(p, 0, [1]).set(mul(slice(p, 1, [0, 2]), slice(p, 1, [1])))), w)), a);
    checkSecondOrder((p) => sum(mul(sin(at(p, null, new Int32Array([2, 0])).mul(slice(p, null, [1, 2]))), w)), a);
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  add,
  mul,
  sin,
  eye,
  matmul,
  matrixTranspose,
  reshape,
  jacfwd,
  jacrev,
  linalg,
  tree,
  DifferentiationError,
  ShapeError,
  TreeMismatchError,
  ValueError,
  type Tree,
} from "../src/index.js";
import { assertClose, randn, rng } from "./helpers.js";

const { LinearOperator } = linalg;

type Pair = { a: Tensor; b: Tensor };
const example: Pair = {
  a: tensor([0, 0, 0]),
  b: tensor([
    [0, 0],
    [0, 0],
  ]),
};

/** A matrix-free operator on {a: [3], b: [2, 2]} mixing both leaves, with parameters {W, s}. */
function pairOperator(W: Tensor, s: Tensor): linalg.LinearOperator<{ W: Tensor; s: Tensor }> {
  return LinearOperator.fromFunction(
    (p: { W: Tensor; s: Tensor }, v: Pair) => ({
      // a ← W v.a + s · (first column of v.b)
      a: add(
        matmul(p.W, v.a),
        mul(
          p.s,
          matmul(
            tensor([
              [1, 0, 0, 0],
              [0, 0, 1, 0],
              [0, 0, 0, 0],
            ]),
            reshape(v.b, [4]),
          ),
        ),
      ),
      // b ← 2 v.b + outer-ish coupling to v.a
      b: add(
        mul(v.b, 2),
        reshape(
          matmul(
            tensor([
              [1, 0, 0],
              [0, 1, 0],
              [0, 0, 1],
              [1, 1, 1],
            ]),
            v.a,
          ),
          [2, 2],
        ),
      ),
    }),
    { W, s },
    example,
  );
}

function randomPair(seed: number): Pair {
  const r = rng(seed);
  return { a: randn(r, [3]), b: randn(r, [2, 2]) };
}

describe("LinearOperator", () => {
  test("fromMatrix: matvec, rmatvec, materialize, transpose", () => {
    const A = randn(rng(1), [3, 4]);
    const op = LinearOperator.fromMatrix(A);
    assert.equal(op.inSize, 4);
    assert.equal(op.outSize, 3);
    const v = randn(rng(2), [4]);
    const u = randn(rng(3), [3]);
    assertClose(op.matvec(v) as Tensor, matmul(A, v), { rtol: 1e-15 });
    assertClose(op.rmatvec(u) as Tensor, matmul(matrixTranspose(A), u), { rtol: 1e-14 });
    assert.equal(op.materialize(), A);
    const t = op.transpose();
    assert.equal(t.inSize, 3);
    assertClose(t.materialize(), matrixTranspose(A), { rtol: 0 });
    assertClose(t.matvec(u) as Tensor, op.rmatvec(u) as Tensor, { rtol: 0 });
    assertClose(t.transpose().matvec(v) as Tensor, op.matvec(v) as Tensor, { rtol: 0 });
  });

  test("pytree operator: materialize matches matvec, ⟨u, Av⟩ = ⟨Aᵀu, v⟩ with the derived transpose", () => {
    const op = pairOperator(randn(rng(4), [3, 3]), tensor(0.7));
    assert.equal(op.inSize, 7);
    const M = op.materialize();
    assert.deepEqual([...M.shape], [7, 7]);
    const v = randomPair(5);
    const u = randomPair(6);
    const flat = (p: Tree) => tensor(tree.leaves(p).flatMap((l) => Array.from(l.data)));
    assertClose(flat(op.matvec(v)), matmul(M, flat(v)), { rtol: 1e-13, atol: 1e-14 });
    const lhs = tree.vdot(u, op.matvec(v)).item();
    const rhs = tree.vdot(op.rmatvec(u), v).item();
    assertClose(lhs, rhs, { rtol: 1e-13 });
    // the transposed operator materializes to Mᵀ, and keeps the pytree layout
    assertClose(op.transpose().materialize(), matrixTranspose(M), { rtol: 1e-13, atol: 1e-15 });
    const tu = op.transpose().matvec(u) as Pair;
    assert.deepEqual([...tu.b.shape], [2, 2]);
  });

  test("an explicit rmatvec is used as given; rectangular pytree operators", () => {
    const A = randn(rng(7), [2, 3]);
    const op = LinearOperator.fromFunction(
      (a: Tensor, v: { x: Tensor }) => ({ y: matmul(a, v.x) }),
      A,
      { x: tensor([0, 0, 0]) },
      { outExample: { y: tensor([0, 0]) }, rmatvec: (a: Tensor, u: { y: Tensor }) => ({ x: matmul(u.y, a) }) },
    );
    assert.equal(op.outSize, 2);
    assertClose(op.materialize(), A, { rtol: 1e-15 });
    const u = { y: tensor([1, -1]) };
    assertClose((op.rmatvec(u) as { x: Tensor }).x, matmul(tensor([1, -1]), A), { rtol: 1e-15 });
  });

  test("withParams rebuilds the operator; materialize is differentiable in the params", () => {
    const W = randn(rng(8), [3, 3]);
    const op = pairOperator(W, tensor(0.5));
    const other = op.withParams({ W: mul(W, 2), s: tensor(1) });
    const v = randomPair(9);
    assertClose((other.matvec(v) as Pair).a, add(matmul(mul(W, 2), v.a), tensor([v.b.data[0]!, v.b.data[2]!, 0])), {
      rtol: 1e-14,
    });
    assert.throws(() => op.withParams({ W: tensor([1, 2]), s: tensor(1) } as never), TreeMismatchError);
    // d materialize / d s is the (constant) coupling block
    const J = jacfwd((s: Tensor) => op.withParams({ W, s }).materialize())(tensor(0.5)) as Tensor;
    const Jr = jacrev((s: Tensor) => op.withParams({ W, s }).materialize())(tensor(0.5)) as Tensor;
    assert.deepEqual([...J.shape], [7, 7]);
    assertClose(J, Jr, { rtol: 1e-15 });
    assert.equal(J.data[0 * 7 + 3], 1);
    assert.equal(J.data[1 * 7 + 5], 1);
    assert.equal(
      J.data.reduce((a, x) => a + Math.abs(x), 0),
      2,
    );
  });

  test("validation: shapes, tags, layouts, non-differentiable matvecs", () => {
    assert.throws(() => LinearOperator.fromMatrix(tensor([1, 2])), ShapeError);
    assert.throws(() => LinearOperator.fromMatrix(randn(rng(10), [2, 3]), { symmetric: true }), ShapeError);
    assert.throws(
      () =>
        LinearOperator.fromMatrix(
          tensor([
            [1, 2],
            [3, 4],
          ]),
          { symmetric: true },
        ),
      ValueError,
    );
    assert.throws(
      () =>
        LinearOperator.fromFunction((_p: null, v: Tree) => v, null, tensor([0]), {
          outExample: tensor([0, 0]),
          tags: { diagonal: true },
        }),
      ShapeError,
    );
    const op = LinearOperator.fromMatrix(eye(2));
    assert.throws(() => op.matvec(tensor([1, 2, 3])), TreeMismatchError);
    assert.throws(() => op.rmatvec({ a: tensor([1, 2]) }), TreeMismatchError);
    // a matvec computed on raw values cannot be transposed by autodiff: refused, not silently zero
    const raw = LinearOperator.fromFunction(
      (_p: null, v: Tensor) => tensor(v.data.map((x) => 2 * x)),
      null,
      tensor([0, 0]),
    );
    assert.throws(() => raw.rmatvec(tensor([1, 1])), DifferentiationError);
  });
});

describe("operator combinators", () => {
  const A = randn(rng(11), [4, 4]);
  const B = randn(rng(12), [4, 4]);
  const opA = LinearOperator.fromMatrix(A);
  const opB = LinearOperator.fromMatrix(B);

  test("compose, addOperators, scale, ridge, diagonal, identity materialize to their dense formulas", () => {
    assertClose(linalg.compose(opA, opB).materialize(), matmul(A, B), { rtol: 1e-13, atol: 1e-15 });
    assertClose(linalg.addOperators(opA, opB, opA).materialize(), add(add(A, B), A), { rtol: 1e-14 });
    assertClose(linalg.scale(opA, -2.5).materialize(), mul(A, -2.5), { rtol: 1e-15 });
    assertClose(linalg.ridge(opA, 0.3).materialize(), add(A, mul(eye(4), 0.3)), { rtol: 1e-15 });
    assertClose(
      linalg.diagonal(tensor([1, 2, 3])).materialize(),
      tensor([
        [1, 0, 0],
        [0, 2, 0],
        [0, 0, 3],
      ]),
      { rtol: 0 },
    );
    assertClose(linalg.identity(tensor([0, 0])).materialize(), eye(2), { rtol: 0 });
    // transposes of the combinations
    assertClose(linalg.compose(opA, opB).transpose().materialize(), matrixTranspose(matmul(A, B)), {
      rtol: 1e-13,
      atol: 1e-15,
    });
    const v = randn(rng(13), [4]);
    assertClose(linalg.compose(opA, opB).rmatvec(v) as Tensor, matmul(matrixTranspose(matmul(A, B)), v), {
      rtol: 1e-12,
      atol: 1e-14,
    });
    assertClose(linalg.ridge(opA, 0.3).rmatvec(v) as Tensor, matmul(add(matrixTranspose(A), mul(eye(4), 0.3)), v), {
      rtol: 1e-13,
    });
    // matrix-free versions (no dense shortcut) agree with the shortcuts
    const free = LinearOperator.fromFunction((a: Tensor, x: Tensor) => matmul(a, x), A, tensor([0, 0, 0, 0]));
    assertClose(linalg.ridge(free, 0.3).materialize(), add(A, mul(eye(4), 0.3)), { rtol: 1e-15 });
    assertClose(linalg.scale(free, 2).materialize(), mul(A, 2), { rtol: 1e-15 });
  });

  test("diagonal and identity on pytrees", () => {
    const d = { x: tensor([1, 2]), y: tensor([[3]]) };
    const D = linalg.diagonal(d);
    const out = D.matvec({ x: tensor([1, 1]), y: tensor([[2]]) }) as { x: Tensor; y: Tensor };
    assertClose(out.x, [1, 2], { rtol: 0 });
    assertClose(out.y, [6], { rtol: 0 });
    assertClose(
      D.materialize(),
      tensor([
        [1, 0, 0],
        [0, 2, 0],
        [0, 0, 3],
      ]),
      { rtol: 0 },
    );
    const I = linalg.identity(d);
    assert.equal(I.params, null);
    assertClose((I.matvec(d) as { x: Tensor }).x, d.x, { rtol: 0 });
  });

  test("tags follow the structure", () => {
    const spd = LinearOperator.fromMatrix(
      tensor([
        [2, 1],
        [1, 2],
      ]),
      { symmetric: true, positiveDefinite: true },
    );
    const psd = LinearOperator.fromMatrix(
      tensor([
        [1, 1],
        [1, 1],
      ]),
      { symmetric: true, positiveSemidefinite: true },
    );
    assert.equal(linalg.ridge(psd, 0.1).tags.positiveDefinite, true);
    assert.equal(linalg.ridge(psd, 0).tags.positiveDefinite, undefined);
    assert.equal(linalg.ridge(psd, 0).tags.positiveSemidefinite, true);
    assert.equal(linalg.ridge(opA, 1).tags.positiveDefinite, undefined);
    assert.equal(linalg.scale(spd, 2).tags.positiveDefinite, true);
    assert.equal(linalg.scale(spd, -2).tags.positiveDefinite, undefined);
    assert.equal(linalg.scale(spd, -2).tags.symmetric, true);
    assert.equal(linalg.addOperators(spd, psd).tags.positiveDefinite, true);
    assert.equal(linalg.addOperators(spd, LinearOperator.fromMatrix(eye(2))).tags.symmetric, undefined);
    assert.equal(linalg.diagonal(tensor([1, 2])).tags.positiveDefinite, true);
    assert.equal(linalg.diagonal(tensor([1, -2])).tags.positiveDefinite, undefined);
    assert.equal(linalg.diagonal(tensor([1, -2])).tags.symmetric, true);
    const lower = LinearOperator.fromMatrix(
      tensor([
        [1, 0],
        [2, 3],
      ]),
      { triangular: "lower" },
    );
    assert.equal(lower.transpose().tags.triangular, "upper");
    assert.equal(spd.transpose(), spd);
  });

  test("combinators check that the spaces fit", () => {
    const rect = LinearOperator.fromMatrix(randn(rng(14), [3, 4]));
    assert.throws(() => linalg.compose(rect, rect), ShapeError);
    assert.throws(() => linalg.addOperators(opA, rect), ShapeError);
    assert.throws(() => linalg.ridge(rect, 1), ShapeError);
    assert.throws(() => linalg.scale(opA, tensor([1, 2])), ShapeError);
    assert.throws(() => linalg.ridge(opA, NaN), ValueError);
  });

  test("combinator params are differentiable through matvec", () => {
    const v = randn(rng(15), [4]);
    // d/dρ (A + ρI) v = v ; d/dα (α A v) = A v
    const dRidge = jacfwd((rho: Tensor) => linalg.ridge(opA, rho).matvec(v) as Tensor)(tensor(0.2)) as Tensor;
    assertClose(dRidge, v, { rtol: 1e-15 });
    const dScale = jacrev((alpha: Tensor) => linalg.scale(opA, alpha).matvec(v) as Tensor)(tensor(3)) as Tensor;
    assertClose(dScale, matmul(A, v), { rtol: 1e-14 });
    // a nonlinear parameterisation: d/dθ diag(sin θ) v = cos θ ⊙ v
    const dDiag = jacfwd((t: Tensor) => linalg.diagonal(sin(t)).matvec(v) as Tensor)(
      tensor([0.1, 0.2, 0.3, 0.4]),
    ) as Tensor;
    const expected = new Float64Array(16);
    for (let i = 0; i < 4; i++) expected[i * 4 + i] = Math.cos(0.1 * (i + 1)) * v.data[i]!;
    assertClose(dDiag.data, expected, { rtol: 1e-14, atol: 1e-16 });
  });
});

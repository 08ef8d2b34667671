import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { projection, tensor, sum, mul, grad, ShapeError, ValueError, Tensor } from "../src/index.js";
import { assertClose, checkDerivatives, randTensor, rng } from "./helpers.js";

/** max over the samples Q of ⟨x − p, Q − p⟩, ≤ 0 (to rounding) exactly when p is the projection of x. */
function worstVariational(x: Tensor, p: Tensor, samples: Tensor[]): number {
  let worst = -Infinity;
  for (const q of samples) worst = Math.max(worst, sum(mul(x.sub(p), q.sub(p))).item());
  return worst;
}

describe("projection.isotonic with bounds", () => {
  const r = rng(17);

  test("the bounded fit is the projection onto bounded monotone sequences", () => {
    assertClose(projection.isotonic(tensor([-1, 3, 2, 4]), { yMin: 0, yMax: 3 }), [0, 2.5, 2.5, 3], { atol: 0 });
    assertClose(projection.isotonic(tensor([5, 1, 2]), { increasing: false, yMax: 2 }), [2, 1.5, 1.5], { atol: 0 });
    for (let trial = 0; trial < 5; trial++) {
      const x = randTensor(r, [7], -2, 2);
      const p = projection.isotonic(x, { yMin: -0.5, yMax: 0.8 });
      // random feasible points: sorted uniforms in [−0.5, 0.8]
      const samples = Array.from({ length: 200 }, () =>
        tensor(Array.from({ length: 7 }, () => r.uniform(-0.5, 0.8)).sort((u, v) => u - v)),
      );
      assert.ok(worstVariational(x, p, samples) <= 1e-12);
    }
  });

  test("one bound per row; derivatives in x and the bounds", () => {
    const x = tensor([
      [0.3, -1.2, 0.9, 2.1],
      [1.5, 0.2, -0.3, 0.8],
    ]);
    const lo = tensor([[-0.5], [0]]);
    const hi = tensor([[1], [0.6]]);
    const p = projection.isotonic(x, { yMin: lo, yMax: hi });
    assertClose(
      p,
      [
        [-0.45, -0.45, 0.9, 1],
        [1.4 / 3, 1.4 / 3, 1.4 / 3, 0.6],
      ],
      { rtol: 1e-12 },
    );
    checkDerivatives((xx, l, h) => projection.isotonic(xx, { yMin: l, yMax: h }), [x, lo, hi], { rtol: 1e-7 });
  });

  test("typed errors", () => {
    assert.throws(() => projection.isotonic(tensor([1, 2]), { yMin: 1, yMax: 0 }), ValueError);
    assert.throws(() => projection.isotonic(tensor([1, 2]), { yMin: tensor([0, 0]) }), ShapeError);
  });
});

describe("Euclidean transport and Birkhoff projections", () => {
  const r = rng(23);
  const C = randTensor(r, [3, 4], 0, 2);
  const a = tensor([0.2, 0.5, 0.3]);
  const b = tensor([0.1, 0.4, 0.25, 0.25]);
  const euclid = { geometry: "euclidean" as const };

  test("feasible, sparse, and the projection (variational inequality against feasible plans)", () => {
    const P = projection.transport(C, a, b, euclid);
    assert.ok(P.data.every((v) => v >= 0));
    assertClose(sum(P, { axis: 1 }), a, { atol: 1e-14 });
    assertClose(sum(P, { axis: 0 }), b, { atol: 1e-14 });
    assert.ok(
      P.data.some((v) => v === 0),
      "a sparse plan",
    );
    // entropic plans of random costs are feasible points of U(a, b)
    const samples = Array.from({ length: 40 }, () => projection.transport(randTensor(r, [3, 4], -3, 3), a, b));
    assert.ok(worstVariational(C.neg(), P, samples) <= 1e-10);
    assertClose(
      projection.birkhoff(
        tensor([
          [1, 0],
          [0, 0],
        ]),
        euclid,
      ),
      [
        [0.75, 0.25],
        [0.25, 0.75],
      ],
      { atol: 1e-15 },
    );
  });

  test("a sparse plan whose support splits into several components", () => {
    const n = 10;
    const cost = randTensor(rng(10), [n, n], 0, 1);
    const u = tensor(new Float64Array(n).fill(1 / n));
    const P = projection.transport(cost, u, u, { ...euclid, epsilon: 0.05 });
    assertClose(sum(P, { axis: 0 }), u, { atol: 1e-14 });
    assertClose(sum(P, { axis: 1 }), u, { atol: 1e-14 });
    assert.ok(P.data.filter((v) => v > 0).length < 2 * n, "sparse");
    const samples = Array.from({ length: 40 }, () => projection.transport(randTensor(r, [n, n], -3, 3), u, u));
    assert.ok(worstVariational(cost.div(-0.05), P, samples) <= 1e-9);
  });

  test("Birkhoff: doubly stochastic and the projection", () => {
    const X = randTensor(r, [4, 4], -1, 1);
    const P = projection.birkhoff(X, { ...euclid, epsilon: 0.5 });
    assertClose(sum(P, { axis: 0 }), [1, 1, 1, 1], { atol: 1e-14 });
    assertClose(sum(P, { axis: 1 }), [1, 1, 1, 1], { atol: 1e-14 });
    const u = tensor([1, 1, 1, 1]);
    const samples = Array.from({ length: 40 }, () => projection.transport(randTensor(r, [4, 4], -3, 3), u, u));
    assert.ok(worstVariational(X.div(0.5), P, samples) <= 1e-10);
  });

  test("derivatives in the cost, ε and the marginals match finite differences", () => {
    checkDerivatives((c, eps) => projection.transport(c, a, b, { ...euclid, epsilon: eps }), [C, tensor(0.7)], {
      rtol: 1e-6,
      atol: 1e-9,
    });
    // marginals move together (equal mass): a + t·u, b + t·v with Σu = Σv
    const u = tensor([0.1, -0.05, 0.02]);
    const v = tensor([0.03, 0, 0.01, 0.03]);
    checkDerivatives((t) => projection.transport(C, a.add(u.mul(t)), b.add(v.mul(t)), euclid), [tensor(0)], {
      rtol: 1e-6,
      atol: 1e-9,
    });
    // second derivative in ε against finite differences of the first
    const f = (eps: Tensor) => sum(mul(projection.transport(C, a, b, { ...euclid, epsilon: eps }), C));
    const h = 1e-5;
    const fd = (grad(f)(tensor(0.7 + h)).item() - grad(f)(tensor(0.7 - h)).item()) / (2 * h);
    assertClose(grad(grad(f))(tensor(0.7)), fd, { rtol: 1e-5 });
  });

  test("a bad geometry is a typed error", () => {
    assert.throws(() => projection.transport(C, a, b, { geometry: "l2" as "euclidean" }), ValueError);
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  projection,
  linalg,
  concatenate,
  reshape,
  sum,
  mul,
  square,
  sin,
  grad,
  hessian,
  jacrev,
  NonFiniteError,
  ShapeError,
  ValueError,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, randTensor, rng } from "./helpers.js";

const r = rng(2024);

function dotArr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function dist2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

/**
 * The projection p of x onto a convex set satisfies ⟨x − p, y − p⟩ ≤ 0 for every feasible y, and is at least
 * as close to x as every feasible y.
 */
function assertProjectionOnto(x: Tensor, p: Tensor, feasible: Tensor[], msg: string, tol = 1e-10): void {
  const res = x.data.map((v, i) => v - p.data[i]!);
  const d = dist2(x.data, p.data);
  for (const y of feasible) {
    const lhs = dotArr(
      res,
      y.data.map((v, i) => v - p.data[i]!),
    );
    assert.ok(lhs <= tol, `${msg}: variational inequality violated: ${lhs}`);
    assert.ok(d <= dist2(x.data, y.data) + tol, `${msg}: a feasible point is closer to x than p`);
  }
}

function randomSimplexPoint(n: number, value = 1): Tensor {
  const e = Array.from({ length: n }, () => -Math.log(r.uniform()));
  const s = e.reduce((a, b) => a + b, 0);
  return tensor(e.map((v) => (v / s) * value));
}

/** Simplex projection by bisection on τ in Σ max(x − τ, 0) = value (the reference). */
function simplexByBisection(x: ArrayLike<number>, value: number): number[] {
  let lo = Math.min(...Array.from(x)) - value;
  let hi = Math.max(...Array.from(x));
  for (let it = 0; it < 200; it++) {
    const mid = 0.5 * (lo + hi);
    let s = 0;
    for (let i = 0; i < x.length; i++) s += Math.max(x[i]! - mid, 0);
    if (s > value) lo = mid;
    else hi = mid;
  }
  const tau = 0.5 * (lo + hi);
  return Array.from(x, (v) => Math.max(v - tau, 0));
}

describe("nonNegative, box, hypercube, linfBall", () => {
  test("values, feasibility and the variational inequality", () => {
    const x = randn(r, [6]);
    const p = projection.nonNegative(x);
    assert.ok(p.data.every((v) => v >= 0));
    assertProjectionOnto(
      x,
      p,
      Array.from({ length: 20 }, () => randTensor(r, [6], 0, 3)),
      "nonNegative",
    );
    const lo = tensor([-1, -0.5, 0, 0.2, -2, -1]);
    const hi = tensor([0, 0.5, 1, 0.3, 2, -0.9]);
    const b = projection.box(x, lo, hi);
    for (let i = 0; i < 6; i++) assert.equal(b.data[i], Math.min(Math.max(x.data[i]!, lo.data[i]!), hi.data[i]!));
    const inBox = () => tensor(lo.data.map((l, i) => r.uniform(l, hi.data[i]!)));
    assertProjectionOnto(x, b, Array.from({ length: 20 }, inBox), "box");
    assert.deepEqual(projection.hypercube(tensor([-1, 0.5, 2]), 1.5).toArray(), [0, 0.5, 1.5]);
    assert.deepEqual(projection.linfBall(tensor([-3, 0.5, 2]), 1).toArray(), [-1, 0.5, 1]);
  });

  test("derivatives in x and the bounds match finite differences", () => {
    const x = tensor([-1.5, 0.2, 0.7, 2.5, -0.1]);
    const lo = tensor([-1, -1, 0, 0, -1]);
    const hi = tensor([1, 1, 1, 2, 1]);
    checkDerivatives((x, l, u) => projection.box(x, l, u), [x, lo, hi]);
    checkDerivatives((x, s) => projection.hypercube(x, s), [x, tensor(1.2)]);
    checkDerivatives((x, rad) => projection.linfBall(x, rad), [x, tensor(0.9)]);
    checkDerivatives((x) => projection.nonNegative(x), [x]);
    // Closed form: ∂/∂upper is the indicator of the coordinates clipped at the upper bound.
    const g = grad((u: Tensor) => sum(projection.box(x, lo, u)))(hi) as Tensor;
    assert.deepEqual(Array.from(g.data), [0, 0, 0, 1, 0]);
  });

  test("bad bounds raise typed errors", () => {
    assert.throws(() => projection.box(tensor([1, 2]), tensor([1, 0]), tensor([0, 1])), ValueError);
    assert.throws(() => projection.box(tensor([1, 2]), tensor([0, 0, 0]), 1), ShapeError);
    assert.throws(() => projection.linfBall(tensor([1]), -1), ValueError);
    assert.throws(() => projection.nonNegative(tensor([1, NaN])), NonFiniteError);
  });
});

describe("simplex", () => {
  test("matches a bisection solution, is feasible and satisfies the variational inequality", () => {
    for (const n of [1, 2, 5, 30]) {
      for (const value of [1, 2.5]) {
        const x = mul(randn(r, [n]), 2);
        const p = projection.simplex(x, value);
        assertClose(p, tensor(simplexByBisection(x.data, value)), { atol: 1e-12, rtol: 0 }, `n=${n}`);
        assert.ok(p.data.every((v) => v >= 0));
        assertClose(sum(p).item(), value, { rtol: 1e-14, atol: 1e-14 });
        assertProjectionOnto(
          x,
          p,
          Array.from({ length: 10 }, () => randomSimplexPoint(n, value)),
          `simplex n=${n}`,
        );
      }
    }
  });

  test("rows of a batch are projected separately, with per-row values", () => {
    const x = randn(r, [2, 3, 4]);
    const values = tensor([
      [1, 2, 3],
      [0.5, 1, 4],
    ]);
    const p = projection.simplex(x, values);
    for (let row = 0; row < 6; row++) {
      const xs = x.data.subarray(row * 4, row * 4 + 4);
      assertClose(p.data.subarray(row * 4, row * 4 + 4), simplexByBisection(xs, values.data[row]!), {
        atol: 1e-12,
        rtol: 0,
      });
    }
  });

  test("the Jacobian is diag(s) − ssᵀ/|s| and ∂p/∂value = s/|s|", () => {
    const x = tensor([0.9, -0.4, 0.6, 1.3, -2, 0.75]);
    const p = projection.simplex(x);
    const s: number[] = Array.from(p.data, (v) => (v > 0 ? 1 : 0));
    const k = s.reduce((a, b) => a + b, 0);
    assert.ok(k >= 2 && k < 6, "the test point has a non-trivial support");
    const expected = s.flatMap((si, i) => s.map((sj, j) => (i === j ? si : 0) - (si * sj) / k));
    assertClose((jacrev((v: Tensor) => projection.simplex(v))(x) as Tensor).data, expected, { atol: 1e-15 });
    assertClose(
      (jacrev((v: Tensor) => projection.simplex(x, v))(tensor(1)) as Tensor).data,
      s.map((v) => v / k),
      { atol: 1e-15 },
    );
    checkDerivatives((x, v) => projection.simplex(x, v), [x, tensor(1.3)]);
    checkDerivatives((x, v) => projection.simplex(x, v), [reshape(x, [2, 3]), tensor([0.8, 1.1])]);
  });

  test("second derivatives: the Hessian of ½‖p‖² is JᵀJ = J", () => {
    const x = tensor([0.9, -0.4, 0.6, 1.3]);
    const H = hessian((v: Tensor) => mul(0.5, sum(square(projection.simplex(v)))))(x) as Tensor;
    const J = jacrev((v: Tensor) => projection.simplex(v))(x) as Tensor;
    assertClose(H.data, J.data, { atol: 1e-14 });
    // A non-linear outer function: compare the Hessian with finite differences of the gradient.
    const f = (v: Tensor) => sum(sin(mul(projection.simplex(v, 2), tensor([1, 2, 3, 4]))));
    const Hf = hessian(f)(x) as Tensor;
    assertClose(
      Hf.data,
      numericJacobian((v) => grad(f)(v) as Tensor, [x]),
      { rtol: 1e-5, atol: 1e-7 },
    );
  });

  test("bad input raises typed errors", () => {
    assert.throws(() => projection.simplex(tensor([1, 2]), 0), ValueError);
    assert.throws(() => projection.simplex(tensor(1)), ShapeError);
    assert.throws(() => projection.simplex(tensor([[1, 2]]), tensor([1, 2])), ShapeError);
    assert.throws(() => projection.simplex(tensor([1, Infinity])), NonFiniteError);
  });
});

describe("sparseSimplex", () => {
  /** Brute force: the best projection onto the simplex restricted to any support of size k. */
  function bruteForce(x: number[], k: number): number[] {
    let best: number[] = [];
    let bestD = Infinity;
    const n = x.length;
    for (let mask = 0; mask < 1 << n; mask++) {
      const idx = [...Array(n).keys()].filter((i) => mask & (1 << i));
      if (idx.length !== k) continue;
      const sub = simplexByBisection(
        idx.map((i) => x[i]!),
        1,
      );
      const full = new Array(n).fill(0);
      idx.forEach((i, j) => (full[i] = sub[j]));
      const d = dist2(full, x);
      if (d < bestD) {
        bestD = d;
        best = full;
      }
    }
    return best;
  }

  test("matches brute force over supports and has at most k non-zeros", () => {
    for (let trial = 0; trial < 5; trial++) {
      const x = randn(r, [6]);
      for (const k of [1, 2, 3, 6]) {
        const p = projection.sparseSimplex(x, k);
        assert.ok(p.data.filter((v) => v !== 0).length <= k);
        assertClose(p.data, bruteForce(Array.from(x.data), k), { atol: 1e-12, rtol: 0 }, `k=${k}`);
      }
    }
  });

  test("derivatives match finite differences", () => {
    const x = tensor([0.9, -0.4, 0.6, 1.3, 0.2, 1.0]);
    checkDerivatives((x, v) => projection.sparseSimplex(x, 3, v), [x, tensor(1.5)]);
  });

  test("k out of range raises", () => {
    assert.throws(() => projection.sparseSimplex(tensor([1, 2]), 3), ShapeError);
    assert.throws(() => projection.sparseSimplex(tensor([1, 2]), 0), ShapeError);
  });
});

describe("l1Ball, l1Sphere", () => {
  const inL1Ball = (n: number, radius: number) => {
    const signs = tensor(Array.from({ length: n }, () => (r.uniform() < 0.5 ? -1 : 1)));
    return mul(randomSimplexPoint(n, radius * r.uniform()), signs);
  };

  test("inside the ball the projection is the identity; outside it lands on the sphere", () => {
    const inside = tensor([0.2, -0.3, 0.1]);
    assert.deepEqual(projection.l1Ball(inside, 1).toArray(), inside.toArray());
    const x = mul(randn(r, [7]), 2);
    const p = projection.l1Ball(x, 1.5);
    assertClose(
      p.data.reduce((s, v) => s + Math.abs(v), 0),
      1.5,
      { rtol: 1e-14 },
    );
    const signs = Array.from(x.data, (v) => (v < 0 ? -1 : 1));
    const expected = simplexByBisection(x.data.map(Math.abs), 1.5).map((v, i) => v * signs[i]!);
    assertClose(p.data, expected, { atol: 1e-12, rtol: 0 });
    assertProjectionOnto(
      x,
      p,
      Array.from({ length: 20 }, () => inL1Ball(7, 1.5)),
      "l1Ball",
    );
  });

  test("l1Sphere is on the sphere and no sampled sphere point is closer", () => {
    const x = tensor([0.1, -0.2, 0.05, 0.3]);
    const p = projection.l1Sphere(x, 2);
    assertClose(
      p.data.reduce((s, v) => s + Math.abs(v), 0),
      2,
      { rtol: 1e-14 },
    );
    for (let i = 0; i < 50; i++) {
      const y = randomSimplexPoint(4, 2).data.map((v) => (r.uniform() < 0.5 ? -v : v));
      assert.ok(dist2(x.data, p.data) <= dist2(x.data, y) + 1e-12);
    }
  });

  test("derivatives in x and the radius match finite differences", () => {
    const x = tensor([0.9, -0.4, 0.6, -1.3, 0.05]);
    checkDerivatives((x, rad) => projection.l1Ball(x, rad), [x, tensor(1.2)]);
    checkDerivatives((x, rad) => projection.l1Sphere(x, rad), [x, tensor(1.2)]);
    checkDerivatives((x, rad) => projection.l1Ball(x, rad), [mul(x, 0.1), tensor(1.2)], {}, "inside");
  });
});

describe("l2Ball, l2Sphere", () => {
  test("closed forms, feasibility and the variational inequality", () => {
    const x = tensor([3, 4]);
    assertClose(projection.l2Ball(x, 2), tensor([1.2, 1.6]), { atol: 1e-15 });
    assert.deepEqual(projection.l2Ball(tensor([0.3, 0.4]), 1).toArray(), [0.3, 0.4]);
    assertClose(projection.l2Sphere(tensor([0.3, 0.4]), 2), tensor([1.2, 1.6]), { atol: 1e-15 });
    const y = randn(r, [2, 3]);
    const p = projection.l2Ball(mul(y, 3), 1.5);
    assertClose(Math.sqrt(dotArr(p.data, p.data)), 1.5, { rtol: 1e-14 });
    const inBall = () => {
      const d = randn(r, [2, 3]);
      const n = Math.sqrt(dotArr(d.data, d.data));
      return mul(d, (1.5 * r.uniform()) / n);
    };
    assertProjectionOnto(mul(y, 3), p, Array.from({ length: 20 }, inBall), "l2Ball");
  });

  test("first and second derivatives match finite differences", () => {
    const x = tensor([0.9, -1.4, 0.6]);
    checkDerivatives((x, rad) => projection.l2Ball(x, rad), [x, tensor(0.7)]);
    checkDerivatives((x, rad) => projection.l2Ball(x, rad), [x, tensor(3)], {}, "inside");
    checkDerivatives((x, rad) => projection.l2Sphere(x, rad), [x, tensor(2.5)]);
    const f = (v: Tensor) => sum(mul(projection.l2Ball(v, 0.7), tensor([1, 2, 3])));
    assertClose(
      (hessian(f)(x) as Tensor).data,
      numericJacobian((v) => grad(f)(v) as Tensor, [x]),
      { rtol: 1e-5, atol: 1e-7 },
    );
  });

  test("the sphere projection of 0 is not unique and raises", () => {
    assert.throws(() => projection.l2Sphere(tensor([0, 0])), ValueError);
  });
});

describe("hyperplane, halfspace, affineSet", () => {
  test("feasibility and orthogonality of the residual", () => {
    const x = randn(r, [5]);
    const a = randn(r, [5]);
    const p = projection.hyperplane(x, a, 0.7);
    assertClose(dotArr(a.data, p.data), 0.7, { atol: 1e-14 });
    // any point y of the hyperplane: ⟨x − p, y − p⟩ = 0
    const y = projection.hyperplane(randn(r, [5]), a, 0.7);
    assertClose(
      dotArr(
        x.data.map((v, i) => v - p.data[i]!),
        y.data.map((v, i) => v - p.data[i]!),
      ),
      0,
      { atol: 1e-12 },
    );
    const h = projection.halfspace(x, a, -1);
    assert.ok(dotArr(a.data, h.data) <= -1 + 1e-14);
    const inHalf = () => projection.halfspace(mul(randn(r, [5]), 3), a, -1);
    assertProjectionOnto(x, h, Array.from({ length: 20 }, inHalf), "halfspace");
    assert.deepEqual(projection.halfspace(tensor([1, 1]), tensor([1, 0]), 3).toArray(), [1, 1]);
  });

  test("affineSet: A p = b, the residual is orthogonal to the set, and it matches hyperplane for one row", () => {
    const A = randn(r, [2, 5]);
    const b = randn(r, [2]);
    const x = randn(r, [5]);
    const p = projection.affineSet(x, A, b);
    for (let i = 0; i < 2; i++)
      assertClose(dotArr(A.data.subarray(i * 5, i * 5 + 5), p.data), b.data[i]!, { atol: 1e-13 });
    const y = projection.affineSet(randn(r, [5]), A, b);
    assertClose(
      dotArr(
        x.data.map((v, i) => v - p.data[i]!),
        y.data.map((v, i) => v - p.data[i]!),
      ),
      0,
      { atol: 1e-12 },
    );
    const a = randn(r, [5]);
    assertClose(projection.affineSet(x, reshape(a, [1, 5]), tensor([0.3])), projection.hyperplane(x, a, 0.3), {
      atol: 1e-14,
    });
  });

  test("derivatives in x and the set's parameters, first and second order", () => {
    const x = tensor([0.3, -1.2, 0.8, 0.5]);
    const a = tensor([1, 0.5, -0.7, 2]);
    checkDerivatives((x, a, b) => projection.hyperplane(x, a, b), [x, a, tensor(0.4)]);
    checkDerivatives((x, a, b) => projection.halfspace(x, a, b), [x, a, tensor(-0.5)]);
    checkDerivatives((x, a, b) => projection.halfspace(x, a, b), [x, a, tensor(5)], {}, "inside");
    const A = tensor([
      [1, 0.5, -0.7, 2],
      [0.2, -1, 0.3, 0.1],
    ]);
    checkDerivatives((x, A, b) => projection.affineSet(x, A, b), [x, A, tensor([0.4, -0.2])]);
    const f = (m: Tensor) => sum(sin(projection.affineSet(x, m, tensor([0.4, -0.2]))));
    assertClose(
      (hessian(f)(A) as Tensor).data,
      numericJacobian((m) => grad(f)(m) as Tensor, [A]),
      { rtol: 1e-5, atol: 1e-7 },
    );
  });

  test("degenerate sets raise", () => {
    assert.throws(() => projection.hyperplane(tensor([1, 2]), tensor([0, 0]), 1), ValueError);
    assert.throws(
      () =>
        projection.affineSet(
          tensor([1, 2]),
          tensor([
            [1, 1],
            [2, 2],
          ]),
          tensor([1, 2]),
        ),
      linalg.LinearSolveError,
    );
    assert.throws(() => projection.affineSet(tensor([1, 2]), tensor([[1, 1, 1]]), tensor([1])), ShapeError);
  });
});

describe("boxSection", () => {
  /** Reference: bisection on τ in ⟨a, clip(x − τa, l, u)⟩ = b, to full precision. */
  function reference(x: number[], l: number[], u: number[], a: number[], b: number): number[] {
    const at = (tau: number) => x.map((v, i) => Math.min(Math.max(v - tau * a[i]!, l[i]!), u[i]!));
    let lo = -1e3;
    let hi = 1e3;
    for (let it = 0; it < 300; it++) {
      const mid = 0.5 * (lo + hi);
      if (dotArr(a, at(mid)) > b) lo = mid;
      else hi = mid;
    }
    return at(0.5 * (lo + hi));
  }

  test("matches the reference, is feasible and satisfies the variational inequality", () => {
    for (let trial = 0; trial < 6; trial++) {
      const n = 6;
      const x = mul(randn(r, [n]), 2);
      const l = randTensor(r, [n], -1, 0);
      const u = randTensor(r, [n], 0.2, 1.5);
      const a = randTensor(r, [n], -1, 2);
      const b = 0.3 * r.uniform();
      const p = projection.boxSection(x, l, u, a, b);
      assertClose(p.data, reference([...x.data], [...l.data], [...u.data], [...a.data], b), { atol: 1e-9, rtol: 0 });
      assertClose(dotArr(a.data, p.data), b, { atol: 1e-12 });
      for (let i = 0; i < n; i++) assert.ok(p.data[i]! >= l.data[i]! && p.data[i]! <= u.data[i]!);
      const feasible = Array.from({ length: 20 }, () => projection.boxSection(mul(randn(r, [n]), 3), l, u, a, b));
      assertProjectionOnto(x, p, feasible, "boxSection", 1e-9);
    }
  });

  test("the capped simplex example", () => {
    assertClose(
      projection.boxSection(tensor([0.9, 0.3, 0.1]), 0, 0.5, tensor([1, 1, 1]), 1),
      tensor([0.5, 0.35, 0.15]),
      { atol: 1e-15 },
    );
  });

  test("derivatives in every argument match finite differences", () => {
    const x = tensor([0.9, -0.4, 0.35, 1.3, 0.1]);
    const l = tensor([0, -0.2, 0, 0, -0.5]);
    const u = tensor([0.5, 0.8, 0.7, 0.6, 0.9]);
    const a = tensor([1, 0.5, 1.5, 1, -0.3]);
    const p = projection.boxSection(x, l, u, a, 1);
    const free = p.data.filter((v, i) => v > l.data[i]! && v < u.data[i]!).length;
    assert.ok(free >= 2 && free < 5, "the test point has coordinates at bounds and free ones");
    checkDerivatives((x, l, u, a, b) => projection.boxSection(x, l, u, a, b), [x, l, u, a, tensor(1)]);
  });

  test("an empty section raises", () => {
    assert.throws(() => projection.boxSection(tensor([0, 0]), 0, 1, tensor([1, 1]), 3), ValueError);
    assert.throws(() => projection.boxSection(tensor([0, 0]), 0, 1, tensor([0, 0]), 0), ValueError);
  });
});

describe("isotonic", () => {
  /** Brute force over partitions into consecutive blocks: the closest monotone block-mean sequence. */
  function bruteForce(x: number[], increasing: boolean): number[] {
    const n = x.length;
    let best: number[] = [];
    let bestD = Infinity;
    for (let cuts = 0; cuts < 1 << (n - 1); cuts++) {
      const y: number[] = [];
      let start = 0;
      for (let i = 0; i < n; i++) {
        if (i === n - 1 || cuts & (1 << i)) {
          const block = x.slice(start, i + 1);
          const m = block.reduce((s, v) => s + v, 0) / block.length;
          for (let j = start; j <= i; j++) y.push(m);
          start = i + 1;
        }
      }
      const monotone = y.every((v, i) => i === 0 || (increasing ? y[i - 1]! <= v + 1e-15 : y[i - 1]! >= v - 1e-15));
      const d = dist2(x, y);
      if (monotone && d < bestD) {
        bestD = d;
        best = y;
      }
    }
    return best;
  }

  test("matches brute force on small inputs, both directions", () => {
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + (trial % 5);
      const x = randn(r, [n]);
      for (const increasing of [true, false]) {
        const p = projection.isotonic(x, { increasing });
        assertClose(p.data, bruteForce([...x.data], increasing), { atol: 1e-14, rtol: 0 }, `n=${n} inc=${increasing}`);
      }
    }
  });

  test("feasible, variational inequality against random monotone sequences, batched rows", () => {
    const x = randn(r, [3, 8]);
    const p = projection.isotonic(x);
    for (let row = 0; row < 3; row++) {
      const xr = tensor(x.data.slice(row * 8, row * 8 + 8));
      const pr = tensor(p.data.slice(row * 8, row * 8 + 8));
      assertClose(pr, projection.isotonic(xr), { atol: 0, rtol: 0 });
      for (let i = 1; i < 8; i++) assert.ok(pr.data[i - 1]! <= pr.data[i]!);
      const monotone = () => tensor(Array.from(randn(r, [8]).data).sort((u, v) => u - v));
      assertProjectionOnto(xr, pr, Array.from({ length: 20 }, monotone), "isotonic");
    }
  });

  test("the Jacobian is block averaging, and derivatives match finite differences", () => {
    const x = tensor([1, 3, 2, 4, 3.5, 5]);
    const J = jacrev((v: Tensor) => projection.isotonic(v))(x) as Tensor;
    const expected = [
      [1, 0, 0, 0, 0, 0],
      [0, 0.5, 0.5, 0, 0, 0],
      [0, 0.5, 0.5, 0, 0, 0],
      [0, 0, 0, 0.5, 0.5, 0],
      [0, 0, 0, 0.5, 0.5, 0],
      [0, 0, 0, 0, 0, 1],
    ];
    assertClose(J.data, expected.flat(), { atol: 0, rtol: 0 });
    checkDerivatives((v) => projection.isotonic(v), [x]);
    checkDerivatives(
      (v) => projection.isotonic(v, { increasing: false }),
      [
        tensor([
          [1, 3, 2.5],
          [4, 3.5, 5.2],
        ]),
      ],
    );
    const f = (v: Tensor) => sum(sin(projection.isotonic(v)));
    assertClose(
      (hessian(f)(x) as Tensor).data,
      numericJacobian((v) => grad(f)(v) as Tensor, [x]),
      { rtol: 1e-5, atol: 1e-7 },
    );
  });
});

describe("secondOrderCone", () => {
  const both = (x: Tensor, t: Tensor) => {
    const [y, s] = projection.secondOrderCone([x, t]);
    return concatenate([y, reshape(s, [1])]);
  };

  test("the three cases, feasibility and the variational inequality", () => {
    const [y0, s0] = projection.secondOrderCone([tensor([0.3, 0.4]), tensor(1)]);
    assert.deepEqual([y0.toArray(), s0.item()], [[0.3, 0.4], 1]);
    const [y1, s1] = projection.secondOrderCone([tensor([0.3, 0.4]), tensor(-1)]);
    assert.deepEqual([y1.toArray(), s1.item()], [[0, 0], 0]);
    const [y2, s2] = projection.secondOrderCone([tensor([3, 4]), tensor(1)]);
    assertClose(y2, tensor([1.8, 2.4]), { atol: 1e-15 });
    assertClose(s2.item(), 3, { atol: 1e-15 });
    const x = randn(r, [4]);
    const t = tensor(0.2);
    const p = both(x, t);
    const inCone = () => {
      const y = randn(r, [4]);
      return concatenate([y, tensor([Math.sqrt(dotArr(y.data, y.data)) + r.uniform()])]);
    };
    assertProjectionOnto(concatenate([x, tensor([0.2])]), p, Array.from({ length: 30 }, inCone), "secondOrderCone");
  });

  test("derivatives in x and t match finite differences", () => {
    const x = tensor([0.9, -1.4, 0.6]);
    checkDerivatives(both, [x, tensor(0.3)]);
    checkDerivatives(both, [x, tensor(3)], {}, "inside");
    checkDerivatives(both, [x, tensor(-3)], {}, "polar");
  });
});

/**
 * Numerical hardening (issue 14): inputs at the edges of the float64 range, where a naive kernel returned a
 * silently wrong answer (an unprojected point, NaN, a claim of indefiniteness), and the limits at infinite
 * inputs. Each test states the exact answer and, where a derivative is involved, checks it against finite
 * differences at the same scale.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  projection,
  prox,
  linalg,
  loss,
  logsumexp,
  grad,
  jacfwd,
  jacrev,
  abs,
  clip,
  matmul,
  maximum,
  minimum,
  mul,
  pow,
  relu,
  NonFiniteError,
  ShapeError,
  ValueError,
  zeros,
} from "../src/index.js";
import { lstsqKernel } from "../src/linalg/dense/kernels.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(1414);

function norm2(d: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < d.length; i++) m = Math.max(m, Math.abs(d[i]!));
  if (m === 0) return 0;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += (d[i]! / m) ** 2;
  return m * Math.sqrt(s);
}

describe("simplex-based projections are exact at any scale", () => {
  test("the issue's inputs: the mass is put on the largest entries, not lost to rounding", () => {
    assert.deepEqual(projection.simplex(tensor([3e10, 2e10, 1e10]), 1e-6).toArray(), [1e-6, 0, 0]);
    assert.deepEqual(projection.simplex(tensor([1e16, 0])).toArray(), [1, 0]);
    assert.deepEqual(projection.l1Ball(tensor([3e13, -2e13]), 1e-3).toArray(), [1e-3, 0]);
    assert.deepEqual(projection.sparseSimplex(tensor([3e10, 2e10, 1e10]), 2, 1e-6).toArray(), [1e-6, 0, 0]);
    assert.deepEqual(projection.l1Sphere(tensor([-1e300, 1e280]), 2).toArray(), [-2, 0]);
    // Two entries 2 apart at 1e16 (one ulp): the mass 4 splits as 3 and 1.
    assert.deepEqual(projection.simplex(tensor([1e16, 1e16 - 2, 0]), 4).toArray(), [3, 1, 0]);
    assert.deepEqual(projection.l1Ball(tensor([1e16, -(1e16 - 2), 0]), 4).toArray(), [3, -1, 0]);
  });

  test("exact shifts and power-of-two scalings change nothing", () => {
    // x: multiples of 1024, so x + 2⁶⁰ is exact (the spacing there is 256).
    const x = Array.from({ length: 12 }, () => 1024 * Math.round(r.uniform(-2000, 2000)));
    const v = 3000;
    const base = projection.simplex(tensor(x), v);
    const shifted = projection.simplex(tensor(x.map((e) => e + 2 ** 60)), v);
    assertClose(shifted, base, { rtol: 1e-12, atol: 1e-9 }, "shift by 2⁶⁰");
    for (const k of [-900, 600]) {
      const s = 2 ** k;
      const scaled = projection.simplex(tensor(x.map((e) => e * s)), v * s);
      assertClose(mul(scaled, 1 / s), base, { rtol: 1e-12, atol: 1e-9 }, `scale 2^${k}`);
    }
  });

  test("the Jacobian at scale 1e16 is the closed form diag(s) − ssᵀ/|s|", () => {
    const x = tensor([1e16, 1e16 - 2, 0]);
    // Steps of 2 (one ulp) are exact at 1e16 and keep the support (p = [5, 3, 0]), where p is affine.
    checkDerivatives((x, v) => projection.simplex(x, v), [x, tensor(8)], { eps: 2 }, "simplex at 1e16");
    const J = jacrev((x: Tensor) => projection.simplex(x, 4))(x) as Tensor;
    assert.deepEqual(J.toArray(), [
      [0.5, -0.5, 0],
      [-0.5, 0.5, 0],
      [0, 0, 0],
    ]);
    checkDerivatives(
      (x, v) => projection.l1Ball(x, v),
      [tensor([1e16, -(1e16 - 2), 0]), tensor(8)],
      { eps: 2 },
      "l1Ball at 1e16",
    );
  });

  test("−∞ entries get no mass, with finite derivatives; NaN, +∞ and all-−∞ rows throw", () => {
    assert.deepEqual(projection.simplex(tensor([0, 0, -Infinity])).toArray(), [0.5, 0.5, 0]);
    assert.deepEqual(
      projection
        .simplex(
          tensor([
            [2, -Infinity],
            [-Infinity, 0],
          ]),
        )
        .toArray(),
      [
        [1, 0],
        [0, 1],
      ],
    );
    assert.deepEqual(projection.sparseSimplex(tensor([1, -Infinity, 0.5]), 2, 1).toArray(), [0.75, 0, 0.25]);
    const x = tensor([0.3, -Infinity, 0.1, 0.2]);
    const expected = [
      [2 / 3, 0, -1 / 3, -1 / 3],
      [0, 0, 0, 0],
      [-1 / 3, 0, 2 / 3, -1 / 3],
      [-1 / 3, 0, -1 / 3, 2 / 3],
    ];
    const jf = jacfwd((x: Tensor) => projection.simplex(x))(x) as Tensor;
    const jr = jacrev((x: Tensor) => projection.simplex(x))(x) as Tensor;
    assertClose(jf, tensor(expected), { atol: 1e-15 }, "jacfwd");
    assertClose(jr, tensor(expected), { atol: 1e-15 }, "jacrev");
    assert.throws(() => projection.simplex(tensor([NaN, 1])), NonFiniteError);
    assert.throws(() => projection.simplex(tensor([Infinity, 1])), NonFiniteError);
    assert.throws(() => projection.simplex(tensor([-Infinity, -Infinity])), ValueError);
    assert.throws(() => projection.l1Ball(tensor([-Infinity, 1])), NonFiniteError);
  });
});

describe("l2 projections use scaled norms", () => {
  test("values at 1e155 and 1e-200 are on the sphere, and at 1e308 finite", () => {
    const big = projection.l2Ball(tensor([1e155, 1e155]));
    assertClose(big, tensor([Math.SQRT1_2, Math.SQRT1_2]), { rtol: 1e-15 });
    const tiny = projection.l2Ball(tensor([1e-200, 1e-200]), 1e-200);
    assert.ok(norm2(tiny.data) <= 1e-200 * (1 + 4 * Number.EPSILON), `outside the ball: ${tiny.toArray()}`);
    assertClose(tiny, tensor([Math.SQRT1_2 * 1e-200, Math.SQRT1_2 * 1e-200]), { rtol: 1e-15, atol: 0 });
    assertClose(projection.l2Sphere(tensor([3e-320, 4e-320]), 1), tensor([0.6, 0.8]), { rtol: 1e-2 });
    assertClose(projection.l2Sphere(tensor([3e307, 4e307]), 5e307), tensor([3e307, 4e307]), { rtol: 1e-15 });
    const [y, s] = projection.secondOrderCone([tensor([1e155, 1e155]), tensor(0)]);
    assertClose(y, tensor([5e154, 5e154]), { rtol: 1e-15 });
    assertClose(s, tensor(Math.SQRT1_2 * 1e155), { rtol: 1e-15 });
    const [y2, s2] = projection.secondOrderCone([tensor([1e308, 1e308]), tensor(1e308)]);
    assertClose(s2, tensor(((Math.SQRT2 + 1) / 2) * 1e308), { rtol: 1e-15 });
    assertClose(y2, tensor([((1 + Math.SQRT1_2) / 2) * 1e308, ((1 + Math.SQRT1_2) / 2) * 1e308]), { rtol: 1e-15 });
  });

  test("derivatives at 1e155 and 1e-200 match finite differences and the closed form", () => {
    const big = tensor([3e155, -4e155]);
    // (r/‖x‖)(I − uuᵀ) with u = x/‖x‖, r = 1e155, ‖x‖ = 5e155.
    const closed = [0.2 * (1 - 0.36), 0.2 * 0.48, 0.2 * 0.48, 0.2 * (1 - 0.64)];
    for (const jac of [jacfwd, jacrev]) {
      const J = jac((x: Tensor) => projection.l2Ball(x, 1e155))(big) as Tensor;
      assertClose(J.data, closed, { rtol: 1e-14 }, "l2Ball at 1e155");
    }
    checkDerivatives((x) => projection.l2Ball(x, 1e155), [big], { eps: 1e149 }, "l2Ball at 1e155");
    const tiny = tensor([3e-200, -4e-200]);
    checkDerivatives((x) => projection.l2Ball(x, 1e-200), [tiny], { eps: 1e-206 }, "l2Ball at 1e-200");
    checkDerivatives((x) => projection.l2Sphere(x, 1e-200), [tiny], { eps: 1e-206 }, "l2Sphere at 1e-200");
    // ∂p/∂r = u outside the ball, at any scale.
    const dr = jacrev((rad: Tensor) => projection.l2Ball(tiny, rad))(tensor(1e-210)) as Tensor;
    assertClose(dr.data, [0.6, -0.8], { rtol: 1e-15 });
    // Second order at 1e-200: the Hessian of a linear read-out, against differences of the gradient.
    const w = randn(r, [2]);
    const readout = (x: Tensor) => projection.l2Ball(x, 1e-200).mul(w).sum();
    const g = (x: Tensor) => jacrev(readout)(x) as Tensor;
    const H = jacfwd(g)(tiny) as Tensor;
    assertClose(H.data, numericJacobian(g, [tiny], 0, 1e-206), { rtol: 1e-5 }, "Hessian at 1e-200");
    checkDerivatives(
      (x, t) => projection.secondOrderCone([x, t])[0],
      [big, tensor(1e155)],
      { eps: 1e149 },
      "secondOrderCone at 1e155",
    );
  });
});

describe("prox.groupLasso on the scaled norm", () => {
  test("values at 1e155 and 1e-200, and the Jacobian at 1e-200", () => {
    assertClose(prox.groupLasso(tensor([3e155, 4e155]), 2.5e155), tensor([1.5e155, 2e155]), { rtol: 1e-15 });
    assertClose(prox.groupLasso(tensor([3e-200, 4e-200]), 2.5e-200), tensor([1.5e-200, 2e-200]), { rtol: 1e-15 });
    assert.deepEqual(prox.groupLasso(tensor([3e-200, 4e-200]), 5e-200).toArray(), [0, 0]);
    checkDerivatives((x) => prox.groupLasso(x, 2.5e-200), [tensor([3e-200, -4e-200])], { eps: 1e-206 }, "1e-200");
  });
});

describe("affine projections at any scale of the normal", () => {
  test("hyperplane, halfspace and affineSet with normals at 1e155 and 1e-170", () => {
    for (const sc of [1e155, 1e-170]) {
      const a = tensor([sc, 0]);
      assertClose(projection.hyperplane(tensor([1, 1]), a, 3 * sc), tensor([3, 1]), { rtol: 1e-15 }, `${sc}`);
      assertClose(projection.halfspace(tensor([5, 1]), a, 3 * sc), tensor([3, 1]), { rtol: 1e-15 }, `${sc}`);
      assertClose(projection.affineSet(tensor([1, 1]), tensor([[sc, 0]]), tensor([3 * sc])), tensor([3, 1]), {
        rtol: 1e-15,
      });
      // The projection does not depend on the scale of (a, b): derivatives in x are the unit-scale ones.
      const unit = (x: Tensor) => projection.hyperplane(x, tensor([3, 4]), 2);
      const scaledFn = (x: Tensor) => projection.hyperplane(x, tensor([3 * sc, 4 * sc]), 2 * sc);
      assertClose(jacrev(scaledFn)(tensor([1, -1])) as Tensor, jacrev(unit)(tensor([1, -1])) as Tensor, {
        rtol: 1e-14,
        atol: 1e-15,
      });
      // In a: d/da scales as 1/sc; check against finite differences in units of sc.
      checkDerivatives(
        (x, a) => projection.hyperplane(x, a.mul(sc), 2 * sc),
        [tensor([1, -1]), tensor([3, 4])],
        {},
        `hyperplane at ${sc}`,
      );
    }
    // Rows of very different scales in one affine set: {x₀ = 3, x₁ + x₂ = 4}.
    const p = projection.affineSet(
      tensor([1, 1, 1]),
      tensor([
        [1e200, 0, 0],
        [0, 1e-200, 1e-200],
      ]),
      tensor([3e200, 4e-200]),
    );
    assertClose(p, tensor([3, 2, 2]), { rtol: 1e-15 });
  });
});

describe("dense linear algebra near the limits of float64", () => {
  const scaled = (a: number[][], s: number) => tensor(a.map((row) => row.map((v) => v * s)));

  test("eigh, svdvals, cholesky, qr and lstsq at 1e308 and 1e-300 equal the scaled results", () => {
    const { eigenvalues, eigenvectors } = linalg.eigh(
      tensor([
        [1e308, 1e307],
        [1e307, 1e308],
      ]),
    );
    assertClose(eigenvalues, tensor([9e307, 1.1e308]), { rtol: 1e-15 });
    const h = Math.SQRT1_2;
    assertClose(
      abs(eigenvectors),
      tensor([
        [h, h],
        [h, h],
      ]),
      { rtol: 1e-15 },
    );
    assertClose(linalg.svdvals(tensor([[1e308, 1e308]])), tensor([Math.SQRT2 * 1e308]), { rtol: 1e-15 });
    assertClose(
      linalg.svdvals(
        tensor([
          [1e308, 1e308],
          [1e308, -1e308],
        ]),
      ),
      tensor([Math.SQRT2 * 1e308, Math.SQRT2 * 1e308]),
      { rtol: 1e-15 },
    );
    const c = linalg.cholesky(
      tensor([
        [1e308, 0],
        [0, 1e308],
      ]),
    );
    assertClose(
      c.L,
      tensor([
        [1e154, 0],
        [0, 1e154],
      ]),
      { rtol: 1e-15 },
    );
    assertClose(c.logdet(), tensor(2 * Math.log(1e308)), { rtol: 1e-15 });
    // A general matrix at 1e300 / 1e-300: every factorisation is the unit-scale one, scaled.
    const a = [
      [2, -1, 0.5],
      [-1, 3, 1],
      [0.5, 1, 4],
    ];
    for (const sc of [1e300, 1e-300]) {
      const A = scaled(a, sc);
      assertClose(mul(linalg.eigh(A).eigenvalues, 1 / sc), linalg.eigh(tensor(a)).eigenvalues, { rtol: 1e-14 });
      assertClose(mul(linalg.svdvals(A), 1 / sc), linalg.svdvals(tensor(a)), { rtol: 1e-14 });
      assertClose(mul(linalg.qr(A).R, 1 / sc), linalg.qr(tensor(a)).R, { rtol: 1e-14, atol: 1e-14 });
      assertClose(mul(linalg.cholesky(A).L, 1 / Math.sqrt(sc)), linalg.cholesky(tensor(a)).L, { rtol: 1e-14 });
      const b = tensor([1, 2, 3]);
      assertClose(mul(linalg.lstsq(A, b), sc), linalg.lstsq(tensor(a), b), { rtol: 1e-13 });
      assertClose(mul(projection.psdCone(A), 1 / sc), projection.psdCone(tensor(a)), { rtol: 1e-14, atol: 1e-14 });
    }
  });

  test("derivatives of eigh and svd at 1e200 and 1e-200 match finite differences", () => {
    const a = [
      [2, -1, 0.5],
      [-1, 3, 1],
      [0.5, 1, 4],
      [1, 0, -2],
    ];
    for (const sc of [1e200, 1e-200]) {
      const A = scaled(a, sc);
      const eps = 1e-6 * sc;
      const sq = scaled(a.slice(0, 3), sc);
      // Eigen- and singular values scale with A: compare dw/dA (dimensionless) with finite differences.
      checkDerivatives((m) => linalg.eigh(m).eigenvalues.mul(1 / sc), [sq], { eps }, `eigenvalues at ${sc}`);
      checkDerivatives((m) => linalg.eigh(m).eigenvectors, [sq], { eps, rtol: 1e-5 }, `eigenvectors at ${sc}`);
      checkDerivatives((m) => linalg.svdvals(m).mul(1 / sc), [A], { eps }, `svdvals at ${sc}`);
      // U and V are scale-free: their derivatives are of the order of 1/sc, so differentiate in units of sc.
      for (const pick of [(f: linalg.Svd) => f.u, (f: linalg.Svd) => f.vt]) {
        checkDerivatives((m) => pick(linalg.svd(m.mul(sc))), [tensor(a)], { rtol: 1e-5 }, `svd vectors at ${sc}`);
      }
    }
  });
});

describe("pow at 0 and NaN propagation", () => {
  test("every derivative of xⁿ at 0 is finite: n!/(n−k)!·0^(n−k), i.e. n! at order n and 0 elsewhere", () => {
    for (let n = 0; n <= 4; n++) {
      let f = (x: Tensor) => pow(x, n);
      for (let k = 0; k <= n + 2; k++) {
        const value = f(tensor(0)).item();
        const factorial = Array.from({ length: n }, (_, i) => i + 1).reduce((a, b) => a * b, 1);
        assert.equal(value, k === n ? factorial : 0, `d^${k}/dx^${k} x^${n} at 0`);
        const g = f;
        f = (x: Tensor) => grad(g)(x) as Tensor;
      }
    }
    assert.equal(pow(tensor(0), 0).item(), 1);
    // Away from 0 nothing changes, including the mixed derivative ∂²(aᵇ)/∂a∂b = a^(b−1)(1 + b log a) at b = 0.
    const mixed = grad((b: Tensor) => grad((a: Tensor) => pow(a, b))(tensor(2)) as Tensor)(tensor(0)) as Tensor;
    assertClose(mixed, tensor(0.5), { rtol: 1e-15 });
    checkDerivatives((a, b) => pow(a, b), [tensor([0.5, 2, 3]), tensor([0, 1, 2.5])]);
  });

  test("maximum, minimum, relu and clip propagate NaN from either side, as NumPy", () => {
    const nan = tensor([NaN, 1, NaN]);
    const one = tensor([1, NaN, NaN]);
    for (const op of [maximum, minimum]) {
      assert.ok(
        op(nan, one).data.every((v) => Number.isNaN(v)),
        `${op.name}(a, b)`,
      );
      assert.ok(
        op(one, nan).data.every((v) => Number.isNaN(v)),
        `${op.name}(b, a)`,
      );
      assert.ok(Number.isNaN(op(tensor(NaN), 1).item()) && Number.isNaN(op(tensor(1), NaN).item()));
    }
    assert.ok(Number.isNaN(relu(tensor(NaN)).item()));
    assert.ok(Number.isNaN(clip(tensor(NaN), 0, 1).item()));
    assert.deepEqual(clip(tensor([-1, 0.5, 2]), 0, 1).toArray(), [0, 0.5, 1]);
    assert.deepEqual(relu(tensor([-0, -1, 2])).toArray(), [0, 0, 2]);
    // The derivative goes to the operand that is selected: the NaN one.
    assert.deepEqual((grad((a: Tensor) => maximum(a, 1).sum())(tensor([NaN, 0, 2])) as Tensor).toArray(), [1, 0, 1]);
    assert.deepEqual((grad((b: Tensor) => minimum(1, b).sum())(tensor([NaN, 0, 2])) as Tensor).toArray(), [1, 1, 0]);
  });
});

describe("linearSolve does not trust a wrong symmetry tag", () => {
  const M = tensor([
    [4, 1],
    [-2, 3],
  ]);
  const b = tensor([1, 2]);
  const solveWith = (tags: linalg.OperatorTags, solver: linalg.SolverName) => (A: Tensor, rhs: Tensor) =>
    linalg.linearSolve(
      linalg.LinearOperator.fromFunction((a: Tensor, v: Tensor) => matmul(a, v), A, tensor([0, 0]), { tags }),
      rhs,
      { solver },
    ).value as Tensor;

  test("iterative solvers probe the tag before their transposed solves; dense solvers need no probe", () => {
    for (const solver of ["gmres", "bicgstab"] as const) {
      const f = solveWith({ symmetric: true }, solver);
      // The primal solve is right (its residual is checked with A itself) ...
      assertClose(f(M, b), linalg.solve(M, b), { rtol: 1e-8 });
      // ... but every derivative that solves with Aᵀ refuses the tag instead of solving with A.
      assert.throws(
        () => grad((rhs: Tensor) => f(M, rhs).sum())(b),
        /tagged \{"symmetric":true\} but is not symmetric/,
      );
      assert.throws(() => grad((A: Tensor) => f(A, b).sum())(M), ValueError);
      assert.throws(
        () => jacrev((rhs: Tensor) => solveWith({ positiveDefinite: true }, solver)(M, rhs))(b),
        ValueError,
      );
      checkDerivatives(solveWith({}, solver), [M, b], { rtol: 1e-6 }, `${solver} untagged`);
    }
    // lu transposes the materialized matrix itself: the wrong tag changes nothing.
    checkDerivatives(solveWith({ symmetric: true }, "lu"), [M, b], {}, "lu with a wrong tag");
    // A right tag passes the probe, and the derivatives are those of the symmetric solve.
    const S = tensor([
      [4, 1],
      [1, 3],
    ]);
    for (const solver of ["gmres", "cg", "minres"] as const) {
      checkDerivatives(solveWith({ symmetric: true }, solver), [S, b], { rtol: 1e-6 }, `${solver} symmetric`);
    }
  });
});

describe("empty matrices through linalg, as NumPy", () => {
  test("lstsq with no equations returns zeros; spectral norms of the zero map are 0", () => {
    assert.deepEqual(linalg.lstsq(zeros([0, 3]), zeros([0])).toArray(), [0, 0, 0]);
    assert.deepEqual(linalg.lstsq(zeros([0, 3]), zeros([0, 2])).toArray(), [
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    assert.deepEqual(linalg.lstsq(zeros([3, 0]), tensor([1, 2, 3])).shape, [0]);
    assert.deepEqual((grad((a: Tensor) => linalg.lstsq(a, zeros([0])).sum())(zeros([0, 3])) as Tensor).shape, [0, 3]);
    assert.deepEqual((grad((v: Tensor) => linalg.lstsq(zeros([0, 2]), v).sum())(zeros([0])) as Tensor).shape, [0]);
    for (const ord of [2, "nuc"] as const) {
      assert.equal(linalg.norm(zeros([0, 3]), { ord }).item(), 0);
      assert.equal(linalg.norm(zeros([3, 0]), { ord }).item(), 0);
      assert.deepEqual(linalg.norm(zeros([2, 0, 3]), { ord, axis: [1, 2] }).toArray(), [0, 0]);
      assert.deepEqual(linalg.norm(zeros([0, 2, 3]), { ord, axis: [1, 2] }).shape, [0]);
      assert.deepEqual(linalg.norm(zeros([0, 3]), { ord, keepdims: true }).shape, [1, 1]);
    }
    assert.deepEqual((grad((a: Tensor) => linalg.norm(a, { ord: 2 }))(zeros([0, 3])) as Tensor).shape, [0, 3]);
    assert.throws(() => linalg.norm(zeros([0, 3]), { ord: -2 }), /linalg\.norm: ord -2/);
    // The same through linearSolve (dense lstsq on an operator with no equations) and its derivative.
    const wide = linalg.LinearOperator.fromMatrix(zeros([0, 3]));
    assert.deepEqual((linalg.linearSolve(wide, zeros([0])).value as Tensor).toArray(), [0, 0, 0]);
    const gWide = grad((A: Tensor) =>
      (linalg.linearSolve(linalg.LinearOperator.fromMatrix(A), zeros([0])).value as Tensor).sum(),
    );
    assert.deepEqual((gWide(zeros([0, 3])) as Tensor).shape, [0, 3]);
    assert.deepEqual(lstsqKernel(new Float64Array(0), 0, 3, new Float64Array(0)), new Float64Array(3));
    assert.deepEqual(lstsqKernel(new Float64Array(0), 0, 3, new Float64Array(0), undefined, 2), new Float64Array(6));
    // The other factorisations already accepted empty matrices; their NumPy values:
    assert.equal(linalg.det(zeros([0, 0])).item(), 1);
    assert.deepEqual(linalg.solve(zeros([0, 0]), zeros([0, 2])).shape, [0, 2]);
    assert.deepEqual(linalg.pinv(zeros([0, 3])).shape, [3, 0]);
    assert.deepEqual(linalg.svd(zeros([0, 3])).vt.shape, [0, 3]);
    assert.deepEqual(linalg.eigh(zeros([0, 0])).eigenvalues.shape, [0]);
    assert.deepEqual(linalg.qr(zeros([3, 0])).Q.shape, [3, 0]);
  });
});

describe("losses at infinite logits: the limits, with finite gradients", () => {
  const I = Infinity;
  const gradIn = (f: (z: Tensor) => Tensor, z: Tensor) => grad((v: Tensor) => f(v).sum())(z) as Tensor;

  test("binary losses: 0 when the label agrees, +∞ otherwise; gradients φ'(z) − y", () => {
    const y = tensor([1, 0, 1, 0, 0.5, 0.5]);
    const z = tensor([I, I, -I, -I, I, -I]);
    assert.deepEqual(loss.binaryLogistic(y, z).toArray(), [0, I, I, 0, I, I]);
    assert.deepEqual(loss.sparsemax(y, z).toArray(), [0, I, I, 0, I, I]);
    assert.deepEqual(loss.hinge(y, z).toArray(), [0, I, I, 0, 1, 1]);
    assert.deepEqual(loss.perceptron(y, z).toArray(), [0, I, I, 0, 0, 0]);
    // σ(±∞) − y and clip((z + 1)/2, 0, 1) − y.
    const expected = [0, 1, -1, 0, 0.5, -0.5];
    for (const f of [loss.binaryLogistic, loss.sparsemax]) {
      for (const g of [gradIn((v) => f(y, v), z), jacfwd((v: Tensor) => f(y, v))(z) as Tensor]) {
        assert.deepEqual(Array.from(g.data.length === 6 ? g.data : diagonalOf(g)), expected);
      }
    }
    // Hinge and perceptron are flat at ±∞ (their subgradient there is 0), except where the loss is +∞.
    assert.ok(gradIn((v) => loss.hinge(y, v), z).data.every(Number.isFinite));
    // Second derivatives are finite too (σ'(±∞) = 0).
    assert.deepEqual(
      diagonalOf(jacfwd((v: Tensor) => gradIn((u) => loss.binaryLogistic(y, u), v))(z) as Tensor),
      [0, 0, 0, 0, 0, 0],
    );
  });

  test("binary losses away from infinity: unchanged values, no cancellation, derivatives as before", () => {
    assertClose(loss.binaryLogistic(tensor(1), tensor(40)), tensor(Math.log1p(Math.exp(-40))), { rtol: 1e-14 });
    assertClose(loss.binaryLogistic(tensor(0), tensor(-40)), tensor(Math.log1p(Math.exp(-40))), { rtol: 1e-14 });
    const y = tensor([0, 0.3, 1, 1, 0.5]);
    // Labels inside (0, 1), so that finite differences stay valid labels.
    const yInner = tensor([0.1, 0.3, 0.9, 0.6, 0.5]);
    const z = tensor([-2, -0.4, 0.3, 1.7, 0]);
    checkDerivatives((y, z) => loss.binaryLogistic(y, z), [yInner, z], {}, "binaryLogistic");
    checkDerivatives((y, z) => loss.sparsemax(y, z), [yInner, tensor([-2, -0.4, 0.3, 1.7, 0.1])], {}, "sparsemax");
    checkDerivatives((z) => loss.binaryLogistic(y, z), [z], {}, "binaryLogistic, labels 0 and 1");
    // The gradient at z = 0 (where the two branches meet) is σ(0) − y, from either side.
    assertClose(
      gradIn((v) => loss.binaryLogistic(y, v), zeros([5])),
      tensor([0.5, 0.2, -0.5, -0.5, 0]),
      {
        atol: 1e-15,
      },
    );
  });

  test("multiclass losses: a −∞ logit masks its class out", () => {
    const theta = tensor([0, 0, -I]);
    assertClose(loss.multiclassLogistic(tensor(0), theta), tensor(Math.LN2), { rtol: 1e-15 });
    assert.equal(loss.multiclassLogistic(tensor(2), theta).item(), I);
    assertClose(
      gradIn((v) => loss.multiclassLogistic(tensor(0), v), theta),
      tensor([-0.5, 0.5, 0]),
      { atol: 1e-15 },
    );
    // As if the class were absent: the same loss and gradient as on the two finite logits.
    const finite = tensor([0.3, -1.2, 2]);
    const masked = tensor([0.3, -I, -1.2, 2]);
    const oneHot = tensor([0, 0, 0, 1]);
    for (const f of [loss.multiclassLogistic, loss.multiclassSparsemax, loss.multiclassHinge]) {
      assertClose(f(oneHot, masked), f(tensor([0, 0, 1]), finite), { rtol: 1e-14 }, f.name);
      const g = gradIn((v) => f(oneHot, v), masked).data;
      const gf = gradIn((v) => f(tensor([0, 0, 1]), v), finite).data;
      assertClose([g[0]!, g[2]!, g[3]!], gf, { atol: 1e-15 }, `${f.name} gradient`);
      assert.equal(g[1], 0, `${f.name} gradient at the masked class`);
    }
    assertClose(loss.multiclassSparsemax(tensor(0), theta), tensor(0.25), { rtol: 1e-15 });
    assertClose(
      gradIn((v) => loss.multiclassSparsemax(tensor(0), v), theta),
      tensor([-0.5, 0.5, 0]),
      { atol: 1e-15 },
    );
    // Batched rows with a masked class each, and a Fenchel–Young loss built by the user.
    const rows = tensor([
      [1, -I, 0],
      [-I, 2, 2],
    ]);
    assertClose(loss.multiclassLogistic(tensor([0, 1]), rows), tensor([Math.log1p(Math.exp(-1)), Math.LN2]), {
      rtol: 1e-14,
    });
    const fy = loss.makeFenchelYoungLoss((t) => logsumexp(t, { axis: -1 }));
    assertClose(fy(tensor([1, 0, 0]), theta), tensor(Math.LN2), { rtol: 1e-15 });
    assert.throws(() => loss.multiclassSparsemax(tensor(0), tensor([NaN, 0])), /loss\.multiclassSparsemax: scores/);
    for (const f of [loss.multiclassLogistic, loss.multiclassSparsemax, loss.multiclassHinge]) {
      const allMasked = tensor([
        [0, 1, 2],
        [-I, -I, -I],
      ]);
      assert.throws(() => f(tensor([0, 1]), allMasked), /row 1 is −∞ everywhere/, f.name);
    }
    assert.throws(() => loss.multiclassSparsemax(tensor(0), tensor([I, 0])), NonFiniteError);
  });

  test("shape errors name the loss and its arguments", () => {
    const cases: [string, () => unknown][] = [
      ["loss.binaryLogistic: label and logit", () => loss.binaryLogistic(tensor([1, 0, 1]), tensor([1, 2]))],
      ["loss.sparsemax: label and logit", () => loss.sparsemax(tensor([1, 0, 1]), tensor([1, 2]))],
      ["loss.hinge: label and score", () => loss.hinge(tensor([1, 0, 1]), tensor([1, 2]))],
      ["loss.perceptron: label and score", () => loss.perceptron(tensor([1, 0, 1]), tensor([1, 2]))],
      ["loss.huber: target and pred", () => loss.huber(tensor([1, 0, 1]), tensor([1, 2]))],
      [
        "loss.makeFenchelYoungLoss: label and theta",
        () => loss.makeFenchelYoungLoss((t) => logsumexp(t, { axis: -1 }))(tensor([1, 0, 0]), tensor([1, 2])),
      ],
    ];
    for (const [prefix, f] of cases) {
      assert.throws(f, (e: Error) => e instanceof ShapeError && e.message.startsWith(prefix), prefix);
    }
    // Huber at an infinite residual: the limit and the clipped gradient.
    assert.equal(loss.huber(tensor(0), tensor(I)).item(), I);
    assert.equal((grad((p: Tensor) => loss.huber(tensor(0), p))(tensor(I)) as Tensor).item(), 1);
  });
});

/** The diagonal of a square Jacobian (elementwise functions). */
function diagonalOf(J: Tensor): number[] {
  const n = Math.round(Math.sqrt(J.size));
  return Array.from({ length: n }, (_, i) => J.data[i * n + i]!);
}

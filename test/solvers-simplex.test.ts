import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  MirrorDescent,
  BlockCoordinateDescent,
  ProjectedGradient,
  mirrorDescentFixedPoint,
  projectedGradientFixedPoint,
  blockProxGradFixedPoint,
  customFixedPoint,
  objective,
  projection,
  grad,
  tensor,
  matmul,
  sum,
  square,
  sub,
  mul,
  Tensor,
  ValueError,
  ShapeError,
  zerosLike,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

// Multiclass SVM dual on noisy data: 30 samples, 10 features, 3 classes with random labels (not separable).
const r = rng(5);
const m = 30;
const p = 10;
const k = 3;
const X = randn(r, [m, p]).mul(0.3);
const labels = Array.from({ length: m }, () => Math.floor(r.uniform(0, k)));
const Yd = new Float64Array(m * k);
labels.forEach((c, i) => (Yd[i * k + c] = 1));
const Y = tensor(Yd, [m, k]);
const Xval = randn(r, [8, p]).mul(0.3);
const Yval = randn(r, [8, k]);
const data: [Tensor, Tensor] = [X, Y];
const theta = tensor(1);
const init = tensor(new Float64Array(m * k).fill(1 / k), [m, k]);
const fun = objective.multiclassLinearSvmDual;
const simplexRow = (row: Tensor) => projection.simplex(row);

/** Outer loss ½‖X_val W(β, θ) − Y_val‖² of the primal weights. */
const outer = (beta: Tensor, th: Tensor) =>
  sum(square(sub(matmul(Xval, objective.svmDualPrimalWeights(beta, th, data)), Yval))).mul(0.5);

const pg = new ProjectedGradient({ fun, projection: projection.simplex, tol: 1e-11, maxIter: 5000 });
const md = new MirrorDescent({ fun, stepsize: 0.5, tol: 1e-11, maxIter: 20000 });
const bcd = new BlockCoordinateDescent({ fun, blockProx: simplexRow, tol: 1e-11, maxIter: 2000 });
const solveWith: Record<string, (x0: Tensor, th: Tensor) => Tensor> = {
  ProjectedGradient: (x0, th) => pg.run(x0, null, th, data).params,
  MirrorDescent: (x0, th) => md.run(x0, th, data).params,
  BlockCoordinateDescent: (x0, th) => bcd.run(x0, null, th, data).params,
};

const reference = pg.run(init, null, theta, data).params as Tensor;
const eps = 1e-4;
const fdHypergrad =
  (outer(pg.run(init, null, tensor(1 + eps), data).params, tensor(1 + eps)).item() -
    outer(pg.run(init, null, tensor(1 - eps), data).params, tensor(1 - eps)).item()) /
  (2 * eps);

describe("multiclass SVM dual: mirror descent and BCD agree with projected gradient", () => {
  test("the reference solution is a projected-gradient fixed point with active constraints", () => {
    const T = projectedGradientFixedPoint(fun, projection.simplex, 0.5);
    assertClose(T(reference, null, theta, data) as Tensor, reference, { atol: 1e-10 });
    assert.ok(reference.data.some((v) => v === 0) && reference.data.some((v) => v > 0 && v < 1));
  });
  for (const name of ["MirrorDescent", "BlockCoordinateDescent"]) {
    test(`${name} reaches the same solution to 1e-6`, () => {
      const beta = solveWith[name]!(init, theta);
      assertClose(beta, reference, { atol: 1e-6 });
      assertClose(sum(beta, { axis: 1 }), new Float64Array(m).fill(1), { rtol: 1e-12 });
    });
  }
  test("BCD estimates the exact block Lipschitz constants ‖x_j‖²/θ", () => {
    const { state } = bcd.run(init, null, theta, data);
    const rowNorms = sum(square(X), { axis: 1 });
    assertClose(state.lipschitz, rowNorms, { rtol: 1e-10 });
    assert.ok(state.iterNum < 100, `sweeps ${state.iterNum}`);
  });
});

describe("multiclass SVM dual: hypergradients", () => {
  test("the finite-difference reference is non-trivial", () => {
    assert.ok(Math.abs(fdHypergrad) > 0.1, `hypergradient ${fdHypergrad}`);
  });
  for (const name of Object.keys(solveWith)) {
    test(`${name}: its own implicit hypergradient matches finite differences`, () => {
      const g = grad((th: Tensor) => outer(solveWith[name]!(init, th), th))(theta) as Tensor;
      assertClose(g.item(), fdHypergrad, { rtol: 1e-6 });
    });
    for (const [condition, T] of [
      ["projected-gradient", projectedGradientFixedPoint(fun, projection.simplex, 0.5)],
      ["mirror-descent", mirrorDescentFixedPoint(fun, 0.5)],
    ] as const) {
      test(`${name} solution, ${condition} fixed point: hypergradient matches finite differences`, () => {
        const usesProjection = condition === "projected-gradient";
        const Tx = usesProjection
          ? T
          : (x: Tensor, _hp: unknown, th: Tensor, dd: [Tensor, Tensor]) => (T as any)(x, th, dd);
        const argmin = customFixedPoint(Tx)((x0: Tensor, _hp: unknown, th: Tensor, _data: [Tensor, Tensor]) =>
          solveWith[name]!(x0, th),
        );
        const g = grad((th: Tensor) => outer(argmin(init, null, th, data), th))(theta) as Tensor;
        assertClose(g.item(), fdHypergrad, { rtol: 1e-6 });
      });
    }
  }
});

describe("unrolled mirror descent and BCD", () => {
  test("MirrorDescent with implicitDiff: false matches finite differences of the same iterations", () => {
    const solver = new MirrorDescent({ fun, stepsize: 0.5, maxIter: 30, tol: 0, implicitDiff: false });
    const hyper = (th: Tensor) => outer(solver.run(init, th, data).params, th);
    const g = (grad(hyper)(theta) as Tensor).item();
    const e = 1e-6;
    const fd = (hyper(tensor(1 + e)).item() - hyper(tensor(1 - e)).item()) / (2 * e);
    assertClose(g, fd, { rtol: 1e-6 });
  });
  test("BlockCoordinateDescent with implicitDiff: false and fixed Lipschitz constants matches finite differences", () => {
    const L = [...sum(square(X), { axis: 1 }).data];
    // fixed steps so that the iteration map is smooth in θ (L_j = ‖x_j‖² is valid for θ ≥ 1)
    const solver = new BlockCoordinateDescent({
      fun,
      blockProx: simplexRow,
      lipschitz: L,
      maxIter: 4,
      tol: 0,
      implicitDiff: false,
    });
    const hyper = (th: Tensor) => outer(solver.run(init, null, th, data).params, th);
    const g = (grad(hyper)(tensor(1.2)) as Tensor).item();
    const e = 1e-6;
    const fd = (hyper(tensor(1.2 + e)).item() - hyper(tensor(1.2 - e)).item()) / (2 * e);
    assertClose(g, fd, { rtol: 1e-6 });
  });
});

describe("mirror step and conditions", () => {
  test("the KL step is stable with zero coordinates and huge gradients, and differentiable", () => {
    const f = (x: Tensor, c: Tensor) => sum(mul(x, c));
    const T = mirrorDescentFixedPoint(f, 1);
    const out = T(
      tensor([
        [0, 0.5, 0.5],
        [0.2, 0.3, 0.5],
      ]),
      tensor([
        [-1000, 800, 0],
        [1e4, -1e4, 0],
      ]),
    ) as Tensor;
    assert.ok(out.data.every(Number.isFinite));
    assertClose(
      out,
      [
        [0, 0, 1],
        [0, 1, 0],
      ],
      { atol: 1e-300 },
    );
    checkDerivatives((x, c) => T(x, c) as Tensor, [tensor([[0.2, 0.3, 0.5]]), tensor([[0.4, -0.1, 0.3]])]);
    // softmax(log x − η c) in closed form
    const x = [0.2, 0.3, 0.5];
    const c = [0.4, -0.1, 0.3];
    const w = x.map((v, i) => v * Math.exp(-c[i]!));
    const s = w.reduce((a, b) => a + b, 0);
    assertClose(T(tensor([x]), tensor([c])) as Tensor, [w.map((v) => v / s)], { rtol: 1e-14 });
  });
  test("MirrorDescent requires rows on the simplex and a positive step", () => {
    assert.throws(
      () => md.run(tensor([[0.5, 0.6, 0]]), theta, data),
      (e) => e instanceof ValueError && /MirrorDescent: row 0 of init sums to 1.1/.test(e.message),
    );
    assert.throws(() => md.run(tensor([[1.5, -0.5, 0]]), theta, data), ValueError);
    assert.throws(() => new MirrorDescent({ fun, stepsize: 0 }), ValueError);
  });
  test("the block fixed point updates rows with their own steps", () => {
    const f = (x: Tensor, c: Tensor) => sum(square(sub(x, c))).mul(0.5);
    const T = blockProxGradFixedPoint(f, simplexRow, [1, 0.5]);
    const x = tensor([
      [0.5, 0.5],
      [0.5, 0.5],
    ]);
    const c = tensor([
      [1, 0],
      [1, 0],
    ]);
    // row 0: proj(x − (x − c)) = proj(c) = [1, 0]; row 1: proj(x − 0.5(x − c)) = [0.75, 0.25]
    assertClose(
      T(x, null, c),
      [
        [1, 0],
        [0.75, 0.25],
      ],
      { rtol: 1e-14 },
    );
    checkDerivatives(
      (xx, cc) => T(xx, null, cc),
      [
        tensor([
          [0.6, 0.4],
          [0.3, 0.7],
        ]),
        tensor([
          [0.7, 0.1],
          [0.2, 0.4],
        ]),
      ],
    );
  });
});

describe("BlockCoordinateDescent on composite-linear objectives", () => {
  // The same objective without its `composite` field: the generic path (a full gradient per block).
  const generic = (b: Tensor, th: Tensor, d: [Tensor, Tensor]) => objective.multiclassLinearSvmDual(b, th, d);
  const L = [...sum(square(X), { axis: 1 }).data];
  for (const lipschitz of [L, undefined]) {
    test(`the rank-one path takes the generic path's steps (${lipschitz ? "fixed" : "backtracked"} L_j)`, () => {
      const opts = { blockProx: simplexRow, lipschitz, maxIter: 5, tol: 0 };
      const fast = new BlockCoordinateDescent({ fun, ...opts }).run(init, null, tensor(0.7), data);
      const slow = new BlockCoordinateDescent({ fun: generic, ...opts }).run(init, null, tensor(0.7), data);
      assertClose(fast.params, slow.params, { rtol: 1e-12, atol: 1e-13 });
      assertClose(fast.state.lipschitz, slow.state.lipschitz, { rtol: 0 });
      assertClose(fast.state.error, slow.state.error, { rtol: 1e-10 });
    });
  }
  test("unrolled derivatives through the rank-one path match finite differences (first and second order)", () => {
    const solver = new BlockCoordinateDescent({
      fun,
      blockProx: simplexRow,
      lipschitz: L,
      maxIter: 3,
      tol: 0,
      implicitDiff: false,
    });
    const hyper = (th: Tensor) => outer(solver.run(init, null, th, data).params, th);
    checkDerivatives(hyper, [tensor(1.2)]);
    checkDerivatives((th: Tensor) => grad(hyper)(th) as Tensor, [tensor(1.2)], { rtol: 1e-4 });
  });
  test("objective.compositeLinear: value h(Mx) + ⟨B, x⟩, BCD solves it, and shapes are checked", () => {
    const A = randn(rng(2), [6, 4]);
    const y = randn(rng(3), [6, 2]);
    const B = randn(rng(4), [4, 2]);
    const f = objective.compositeLinear((A_: Tensor, y_: Tensor) => ({
      matrix: A_,
      h: (z: Tensor) => sum(square(sub(z, y_))).mul(0.5),
      linear: B,
    }));
    const x = randn(rng(5), [4, 2]);
    const direct = sum(square(sub(matmul(A, x), y)))
      .mul(0.5)
      .add(sum(mul(B, x)));
    assertClose(f(x, A, y), direct, { rtol: 1e-14 });
    // least squares with a linear term: the minimiser solves AᵀA x = Aᵀy − B
    const solver = new BlockCoordinateDescent({ fun: f, blockProx: (row) => row, tol: 1e-12, maxIter: 5000 });
    const xs = solver.run(zerosLike(x), null, A, y).params as Tensor;
    assertClose(matmul(matmul(A.T, A), xs), sub(matmul(A.T, y), B), { atol: 1e-9 });
    assert.throws(
      () => f(tensor([[1, 2]]), A, y),
      (e: unknown) => e instanceof ShapeError && /\[q, 1\]/.test(e.message),
    );
  });
});

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { objective, tensor, grad, zeros, matmul, Tensor, ShapeError, ValueError } from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const r = rng(11);
const X = randn(r, [7, 3]);
const yReg = randn(r, [7]);
const yBin = tensor([1, 0, 1, 1, 0, 0, 1]);
const yCls = tensor([0, 2, 1, 2, 0, 1, 1]);
const oneHot = (labels: Tensor, k: number) => {
  const d = new Float64Array(labels.size * k);
  labels.data.forEach((c, i) => (d[i * k + c] = 1));
  return tensor(d, [labels.size, k]);
};

describe("least squares and ridge", () => {
  test("values match their definitions", () => {
    const w = tensor([0.5, -1, 2]);
    const res = matmul(X, w).sub(yReg).data;
    const ls = (0.5 * res.reduce((a, v) => a + v * v, 0)) / 7;
    assertClose(objective.leastSquares(w, [X, yReg]).item(), ls, { rtol: 1e-12 });
    assertClose(objective.ridgeRegression(w, tensor(0.3), [X, yReg]).item(), ls + 0.15 * 5.25, { rtol: 1e-12 });
  });
  test("gradients match finite differences in w, l2reg and the data", () => {
    const w = randn(r, [3]);
    checkDerivatives((ww, lam) => objective.ridgeRegression(ww, lam, [X, yReg]), [w, tensor(0.7)]);
    checkDerivatives((xx, yy) => objective.leastSquares(w, [xx, yy]), [X, yReg]);
    const W = randn(r, [3, 2]);
    checkDerivatives((ww) => objective.leastSquares(ww, [X, randn(rng(3), [7, 2])]), [W]);
  });
  test("gradient vanishes at the closed-form ridge solution", () => {
    // (XᵀX/n + λI) w = Xᵀy/n, solved by Cramer-free Gaussian elimination on 3×3
    const n = 7;
    const lam = 0.2;
    const A = matmul(X.T, X)
      .div(n)
      .add(
        tensor([
          [lam, 0, 0],
          [0, lam, 0],
          [0, 0, lam],
        ]),
      );
    const b = matmul(X.T, yReg).div(n);
    const M = [0, 1, 2].map((i) => [...A.data.slice(i * 3, i * 3 + 3), b.data[i]!]);
    for (let c = 0; c < 3; c++)
      for (let i = c + 1; i < 3; i++) {
        const f = M[i]![c]! / M[c]![c]!;
        for (let j = c; j < 4; j++) M[i]![j]! -= f * M[c]![j]!;
      }
    const w = [0, 0, 0];
    for (let i = 2; i >= 0; i--)
      w[i] = (M[i]![3]! - [0, 1, 2].reduce((a, j) => (j > i ? a + M[i]![j]! * w[j]! : a), 0)) / M[i]![i]!;
    const g = grad((ww: Tensor) => objective.ridgeRegression(ww, tensor(lam), [X, yReg]))(tensor(w)) as Tensor;
    assertClose(g, [0, 0, 0], { atol: 1e-12 });
  });
  test("shape errors name the function", () => {
    assert.throws(
      () => objective.leastSquares(tensor([1, 2]), [X, yReg]),
      (e) => e instanceof ShapeError && /leastSquares/.test(e.message),
    );
    assert.throws(() => objective.leastSquares(tensor([1, 2, 3]), [X, tensor([1, 2])]), ShapeError);
    assert.throws(() => objective.leastSquares(tensor([1, 2, 3]), [X] as any), ValueError);
  });
});

describe("logistic regression", () => {
  test("binaryLogreg: value and gradient Xᵀ(σ(Xw) − y)/n", () => {
    const w = randn(r, [3]);
    const z = matmul(X, w).data;
    const sig = (t: number) => 1 / (1 + Math.exp(-t));
    const val = z.reduce((a, t, i) => a + Math.log1p(Math.exp(t)) - yBin.data[i]! * t, 0) / 7;
    assertClose(objective.binaryLogreg(w, [X, yBin]).item(), val, { rtol: 1e-12 });
    const resid = tensor(Float64Array.from(z, (t, i) => (sig(t) - yBin.data[i]!) / 7));
    assertClose(grad((ww: Tensor) => objective.binaryLogreg(ww, [X, yBin]))(w) as Tensor, matmul(X.T, resid), {
      rtol: 1e-10,
    });
    checkDerivatives((ww) => objective.binaryLogreg(ww, [X, yBin]), [w]);
  });
  test("multiclass variants: integer and one-hot labels agree; gradients vs finite differences", () => {
    const W = randn(r, [3, 3]);
    const b = randn(r, [3]);
    assertClose(
      objective.multiclassLogreg(W, [X, yCls]).item(),
      objective.multiclassLogreg(W, [X, oneHot(yCls, 3)]).item(),
      { rtol: 1e-12 },
    );
    assertClose(objective.multiclassLogreg(zeros([3, 3]), [X, yCls]).item(), Math.log(3), { rtol: 1e-12 });
    checkDerivatives((ww) => objective.multiclassLogreg(ww, [X, yCls]), [W]);
    checkDerivatives((ww, lam) => objective.l2MulticlassLogreg(ww, lam, [X, yCls]), [W, tensor(0.4)]);
    checkDerivatives((ww, bb) => objective.multiclassLogregWithIntercept([ww, bb], [X, yCls]), [W, b]);
    checkDerivatives(
      (ww, bb, lam) => objective.l2MulticlassLogregWithIntercept([ww, bb], lam, [X, yCls]),
      [W, b, tensor(0.4)],
    );
    const pen =
      objective.l2MulticlassLogreg(W, tensor(0.4), [X, yCls]).item() - objective.multiclassLogreg(W, [X, yCls]).item();
    assertClose(pen, 0.2 * W.data.reduce((a, v) => a + v * v, 0), { rtol: 1e-10 });
    assert.throws(() => objective.multiclassLogreg(zeros([2, 3]), [X, yCls]), ShapeError);
    assert.throws(() => objective.multiclassLogregWithIntercept([W, zeros([2])], [X, yCls]), ShapeError);
  });
});

describe("multiclass linear SVM dual", () => {
  test("value (1/2θ)‖Xᵀ(Y − β)‖² + ⟨β, Y⟩, gradient −X Xᵀ(Y − β)/θ + Y, derivatives vs finite differences", () => {
    const Y = oneHot(yCls, 3);
    const beta = tensor(
      Float64Array.from({ length: 21 }, () => r.uniform(0, 1)),
      [7, 3],
    );
    const theta = 0.8;
    const V = matmul(X.T, Y.sub(beta));
    const expected =
      (0.5 / theta) * V.data.reduce((a, v) => a + v * v, 0) + beta.data.reduce((a, v, i) => a + v * Y.data[i]!, 0);
    assertClose(objective.multiclassLinearSvmDual(beta, tensor(theta), [X, Y]).item(), expected, { rtol: 1e-12 });
    const g = grad((bb: Tensor) => objective.multiclassLinearSvmDual(bb, tensor(theta), [X, Y]))(beta) as Tensor;
    assertClose(g, matmul(X, V).div(-theta).add(Y), { rtol: 1e-10, atol: 1e-12 });
    checkDerivatives((bb, th) => objective.multiclassLinearSvmDual(bb, th, [X, Y]), [beta, tensor(theta)]);
    assertClose(objective.svmDualPrimalWeights(beta, tensor(theta), [X, Y]), V.div(theta), { rtol: 1e-12 });
    assert.throws(() => objective.multiclassLinearSvmDual(zeros([7, 2]), tensor(1), [X, Y]), ShapeError);
  });
});

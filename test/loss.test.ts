import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { loss, tensor, grad, hessian, sigmoid, exp, sum, Tensor, ShapeError, ValueError } from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const softmax = (z: number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** Sort-based simplex projection on plain numbers (reference). */
const sparsemaxRef = (z: number[]): number[] => {
  const u = [...z].sort((a, b) => b - a);
  let cs = 0;
  let tau = 0;
  u.forEach((v, j) => {
    cs += v;
    const t = (cs - 1) / (j + 1);
    if (v - t > 0) tau = t;
  });
  return z.map((v) => Math.max(v - tau, 0));
};

describe("binaryLogistic", () => {
  test("value matches log(1 + e^z) − y z, stable at large |z|", () => {
    const z = tensor([-800, -3, 0, 2.5, 800]);
    const y = tensor([1, 0, 1, 0.3, 0]);
    const expected = [800, Math.log1p(Math.exp(-3)), Math.log(2), Math.log1p(Math.exp(2.5)) - 0.75, 800];
    assertClose(loss.binaryLogistic(y, z), expected, { rtol: 1e-12 });
  });
  test("gradient is σ(z) − y, derivatives match finite differences", () => {
    const r = rng(1);
    const z = randn(r, [6]);
    const y = tensor([1, 0, 1, 0, 0.5, 1]);
    const g = grad((zz: Tensor) => sum(loss.binaryLogistic(y, zz)))(z) as Tensor;
    assertClose(g, sigmoid(z).sub(y), { rtol: 1e-12, atol: 1e-14 });
    checkDerivatives((zz) => loss.binaryLogistic(y, zz), [z]);
    const h = hessian((zz: Tensor) => sum(loss.binaryLogistic(y, zz)))(z) as Tensor;
    const s = sigmoid(z).data;
    for (let i = 0; i < 6; i++) assertClose(h.data[i * 6 + i]!, s[i]! * (1 - s[i]!), { rtol: 1e-10 });
  });
  test("rejects labels outside [0, 1]", () => {
    assert.throws(
      () => loss.binaryLogistic(tensor([2]), tensor([0])),
      (e) => e instanceof ValueError && /label/.test(e.message),
    );
  });
});

describe("multiclassLogistic", () => {
  test("integer and one-hot labels agree with logsumexp − θ_y, batched and stable", () => {
    const theta = tensor([
      [1, 2, 3],
      [1000, 0, -1000],
    ]);
    const lbl = tensor([2, 1]);
    const oneHot = tensor([
      [0, 0, 1],
      [0, 1, 0],
    ]);
    const lse = (z: number[]) => Math.max(...z) + Math.log(z.reduce((a, v) => a + Math.exp(v - Math.max(...z)), 0));
    const expected = [lse([1, 2, 3]) - 3, 1000];
    assertClose(loss.multiclassLogistic(lbl, theta), expected, { rtol: 1e-12 });
    assertClose(loss.multiclassLogistic(oneHot, theta), expected, { rtol: 1e-12 });
    assert.deepEqual(loss.multiclassLogistic(lbl, theta).shape, [2]);
  });
  test("gradient is softmax(θ) − y; derivatives and Hessian diag(p) − ppᵀ", () => {
    const r = rng(2);
    const theta = randn(r, [4]);
    const y = tensor(1);
    const g = grad((t: Tensor) => loss.multiclassLogistic(y, t))(theta) as Tensor;
    const p = softmax([...theta.data]);
    assertClose(
      g,
      p.map((v, i) => v - (i === 1 ? 1 : 0)),
      { rtol: 1e-12, atol: 1e-14 },
    );
    checkDerivatives((t) => loss.multiclassLogistic(tensor([0, 2, 1]), t), [randn(r, [3, 4])]);
    const h = hessian((t: Tensor) => loss.multiclassLogistic(y, t))(theta) as Tensor;
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++)
        assertClose(h.data[i * 4 + j]!, (i === j ? p[i]! : 0) - p[i]! * p[j]!, { rtol: 1e-9, atol: 1e-12 });
  });
  test("bad labels give typed errors", () => {
    assert.throws(() => loss.multiclassLogistic(tensor(3), tensor([0, 1])), ValueError);
    assert.throws(() => loss.multiclassLogistic(tensor(0.5), tensor([0, 1])), ValueError);
    assert.throws(() => loss.multiclassLogistic(tensor([0, 1]), tensor([0, 1, 2])), ShapeError);
    assert.throws(() => loss.multiclassLogistic(tensor(0), tensor(1)), ShapeError);
  });
});

describe("hinge and perceptron", () => {
  test("binary hinge: closed form and subgradient", () => {
    assertClose(loss.hinge(tensor([1, 0, 1, 0]), tensor([2, 0.5, 0, -3])), [0, 1.5, 1, 0]);
    const g = grad((z: Tensor) => sum(loss.hinge(tensor([1, 0, 1]), z)))(tensor([0.2, 0.3, 4])) as Tensor;
    assertClose(g, [-1, 1, 0]);
    checkDerivatives((z) => loss.hinge(tensor([1, 0, 1, 0]), z), [tensor([0.3, -0.2, 0.7, -2])]);
  });
  test("multiclass hinge: value max_j(θ_j + 1 − y_j) − θ_y and gradient", () => {
    const theta = tensor([
      [1, 1.5, 0.2],
      [4, 0, 1],
    ]);
    assertClose(loss.multiclassHinge(tensor([0, 0]), theta), [1.5, 0]);
    const g = grad((t: Tensor) => sum(loss.multiclassHinge(tensor([0, 0]), t)))(theta) as Tensor;
    assertClose(g, [
      [-1, 1, 0],
      [0, 0, 0],
    ]);
    checkDerivatives(
      (t) => loss.multiclassHinge(tensor([2, 1]), t),
      [
        tensor([
          [0.1, 0.7, -0.3],
          [0.4, 1.9, 0.2],
        ]),
      ],
    );
  });
  test("perceptron losses", () => {
    assertClose(loss.perceptron(tensor([1, 0, 0]), tensor([-2, -1, 3])), [2, 0, 3]);
    assertClose(
      loss.multiclassPerceptron(
        tensor([1, 0]),
        tensor([
          [3, 1, 0],
          [5, 2, 1],
        ]),
      ),
      [2, 0],
    );
    checkDerivatives((t) => loss.multiclassPerceptron(tensor([1]), t), [tensor([[0.3, -0.1, 0.9]])]);
    checkDerivatives((z) => loss.perceptron(tensor([1, 0]), z), [tensor([-0.4, 0.6])]);
  });
});

describe("sparsemax losses", () => {
  test("binary sparsemax: the three pieces, gradient clip((z+1)/2) − y", () => {
    assertClose(loss.sparsemax(tensor([1, 1, 0, 0, 1]), tensor([2, 0, 0, -1.5, 0.4])), [0, 0.25, 0.25, 0, 0.09], {
      rtol: 1e-12,
    });
    const z = tensor([-1.7, -0.3, 0.6, 1.4]);
    const y = tensor([1, 0, 1, 0.5]);
    const g = grad((zz: Tensor) => sum(loss.sparsemax(y, zz)))(z) as Tensor;
    assertClose(g, [0 - 1, 0.35, 0.8 - 1, 1 - 0.5], { rtol: 1e-12 });
    checkDerivatives((zz) => loss.sparsemax(y, zz), [z]);
  });
  test("multiclass sparsemax: value, gradient sparsemax(θ) − y, Hessian diag(s) − ssᵀ/|s|", () => {
    const th = [0.5, 0.2, -1, 0.4];
    const theta = tensor(th);
    const p = sparsemaxRef(th);
    const dotpt = p.reduce((a, v, i) => a + v * th[i]!, 0);
    const pp = p.reduce((a, v) => a + v * v, 0);
    assertClose(loss.multiclassSparsemax(tensor(1), theta).item(), dotpt - 0.5 * pp + 0.5 - th[1]!, { rtol: 1e-12 });
    assertClose(loss.multiclassSparsemax(tensor(0), tensor([2, 0])).item(), 0, { atol: 1e-15 });
    const g = grad((t: Tensor) => loss.multiclassSparsemax(tensor(1), t))(theta) as Tensor;
    assertClose(
      g,
      p.map((v, i) => v - (i === 1 ? 1 : 0)),
      { rtol: 1e-12, atol: 1e-14 },
    );
    const h = hessian((t: Tensor) => loss.multiclassSparsemax(tensor(1), t))(theta) as Tensor;
    const s = p.map((v) => (v > 0 ? 1 : 0));
    const n = s.reduce((a: number, b) => a + b, 0);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++)
        assertClose(h.data[i * 4 + j]!, (i === j ? s[i]! : 0) - (s[i]! * s[j]!) / n, { atol: 1e-12 });
    checkDerivatives(
      (t) => loss.multiclassSparsemax(tensor([0, 2]), t),
      [
        tensor([
          [0.3, 0.1, -0.2],
          [1.1, 0.4, 0.9],
        ]),
      ],
    );
  });
});

describe("huber", () => {
  test("quadratic inside, linear outside, derivative −clip(r, −δ, δ)", () => {
    assertClose(loss.huber(tensor([0, 0, 1]), tensor([0.5, 3, -1]), 1), [0.125, 2.5, 1.5]);
    assertClose(loss.huber(tensor([0]), tensor([3]), 2), [4]);
    const g = grad((p: Tensor) => sum(loss.huber(tensor([0, 0, 0]), p, 1)))(tensor([0.3, 2, -5])) as Tensor;
    assertClose(g, [0.3, 1, -1]);
    checkDerivatives((t, p) => loss.huber(t, p, 0.7), [tensor([0.1, 1.3, -0.2]), tensor([0.5, -0.4, -0.1])]);
    assert.throws(() => loss.huber(tensor([0]), tensor([0]), 0), ValueError);
  });
});

describe("makeFenchelYoungLoss", () => {
  test("with log-sum-exp it is the multiclass logistic loss, with its gradient", () => {
    const lse = (t: Tensor) => exp(t).sum({ axis: -1 }).log();
    const fy = loss.makeFenchelYoungLoss(lse);
    const theta = tensor([
      [0.3, -0.5, 1.2],
      [0.1, 0.2, 0.3],
    ]);
    const y = tensor([
      [0, 0, 1],
      [1, 0, 0],
    ]);
    assertClose(fy(y, theta), loss.multiclassLogistic(y, theta), { rtol: 1e-12 });
    checkDerivatives((t) => fy(y, t), [theta]);
    assert.throws(() => fy(y, tensor(1)), ShapeError);
  });
});

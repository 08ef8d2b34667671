/**
 * logsumexp, softmax and logSoftmax: values against a naive reference, stability at extreme inputs,
 * derivatives against finite differences and closed forms (softmax Jacobian diag(s) − s sᵀ), second
 * derivatives, and errors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  logsumexp,
  softmax,
  logSoftmax,
  broadcastTo,
  onesLike,
  sum,
  mul,
  grad,
  vjp,
  jacfwd,
  jacrev,
  hessian,
  ValueError,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

/** Applies `f` to every lane of `x` over `axes` (by explicit multi-indices), writing a lane of the same length. */
function refLanes(x: Tensor, axes: number[], f: (lane: number[]) => number[]): Tensor {
  const nd = x.ndim;
  const ax = axes.map((a) => (a < 0 ? a + nd : a));
  const groups = new Map<string, number[]>();
  for (let k = 0; k < x.size; k++) {
    let rest = k;
    const key: number[] = [];
    for (let i = nd - 1; i >= 0; i--) {
      if (!ax.includes(i)) key.unshift(rest % x.shape[i]!);
      rest = Math.floor(rest / x.shape[i]!);
    }
    const s = key.join(",");
    if (!groups.has(s)) groups.set(s, []);
    groups.get(s)!.push(k);
  }
  const out = new Float64Array(x.size);
  for (const idx of groups.values()) {
    const y = f(idx.map((k) => x.data[k]!));
    idx.forEach((k, j) => (out[k] = y[j]!));
  }
  return tensor(out, x.shape);
}

const naiveSoftmax = (v: number[]) => {
  const e = v.map(Math.exp);
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};
const naiveLse = (v: number[]) => Math.log(v.map(Math.exp).reduce((a, b) => a + b, 0));

const axisCases: number[][] = [[0], [1], [2], [-1], [0, 2], [1, 2], [0, 1, 2]];

describe("values over every axis layout", () => {
  const r = rng(21);
  const x = randn(r, [2, 3, 4]);
  for (const axes of axisCases) {
    const axis = axes.length === 1 ? axes[0]! : axes;
    test(`axis ${JSON.stringify(axis)}`, () => {
      const s = softmax(x, axis);
      assertClose(s, refLanes(x, axes, naiveSoftmax), { rtol: 1e-14, atol: 1e-16 });
      assertClose(
        logSoftmax(x, axis),
        refLanes(x, axes, (v) => naiveSoftmax(v).map(Math.log)),
        { rtol: 1e-13, atol: 1e-15 },
      );
      const lseKeep = logsumexp(x, { axis, keepdims: true });
      assertClose(
        broadcastTo(lseKeep, x.shape),
        refLanes(x, axes, (v) => v.map(() => naiveLse(v))),
        { rtol: 1e-14 },
      );
      // logSoftmax = x − logsumexp(x, keepdims), and the lanes of softmax sum to one.
      assertClose(logSoftmax(x, axis), x.sub(lseKeep), { rtol: 1e-14, atol: 1e-15 });
      const total = sum(s, { axis });
      assertClose(total, onesLike(total), { rtol: 1e-14 });
    });
  }
  test("logsumexp against the naive formula, with and without keepdims", () => {
    assertClose(logsumexp(x), naiveLse([...x.data]), { rtol: 1e-14 });
    const byRow = logsumexp(x, { axis: 2 });
    assert.deepEqual(byRow.shape, [2, 3]);
    for (let k = 0; k < 6; k++)
      assertClose(byRow.data[k]!, naiveLse([...x.data.subarray(4 * k, 4 * k + 4)]), { rtol: 1e-14 });
    assert.deepEqual(logsumexp(x, { axis: [0, 2], keepdims: true }).shape, [1, 3, 1]);
  });
});

describe("stability at extreme inputs", () => {
  test("large and very negative entries neither overflow nor underflow", () => {
    assertClose(logsumexp(tensor([1000, 1000, 999])), 1000 + Math.log(2 + Math.exp(-1)), { rtol: 1e-15 });
    assertClose(logsumexp(tensor([-1000, -1001])), -1000 + Math.log1p(Math.exp(-1)), { rtol: 1e-15 });
    assertClose(softmax(tensor([1000, 1000 + Math.log(3)])), [0.25, 0.75], { rtol: 1e-12 });
    assert.deepEqual(logSoftmax(tensor([0, -1000])).toArray(), [0, -1000]);
    const g = grad((z: Tensor) => logsumexp(z))(tensor([800, 800])) as Tensor;
    assert.deepEqual(g.toArray(), [0.5, 0.5]);
  });
  test("−∞ entries get probability 0 and finite derivatives; an all-(−∞) lane has log-sum-exp −∞", () => {
    const x = tensor([0, -Infinity, Math.log(3)]);
    assertClose(softmax(x), [0.25, 0, 0.75], { rtol: 1e-15 });
    assertClose(logsumexp(x), Math.log(4), { rtol: 1e-15 });
    assert.deepEqual(logSoftmax(x).data[1], -Infinity);
    const g = grad((z: Tensor) => logsumexp(z))(x) as Tensor;
    assertClose(g, [0.25, 0, 0.75], { rtol: 1e-15 });
    assert.equal(logsumexp(tensor([-Infinity, -Infinity])).item(), -Infinity);
    assert.equal(logsumexp(tensor([1, Infinity])).item(), Infinity);
    assert.ok(Number.isNaN(logsumexp(tensor([1, NaN])).item()));
  });
});

describe("derivatives", () => {
  const r = rng(22);
  const x = randn(r, [2, 3, 4]);
  for (const axes of axisCases) {
    const axis = axes.length === 1 ? axes[0]! : axes;
    test(`finite differences, axis ${JSON.stringify(axis)}`, () => {
      checkDerivatives((z: Tensor) => softmax(z, axis), [x], {}, "softmax");
      checkDerivatives((z: Tensor) => logSoftmax(z, axis), [x], {}, "logSoftmax");
      checkDerivatives((z: Tensor) => logsumexp(z, { axis }), [x], {}, "logsumexp");
      checkDerivatives((z: Tensor) => logsumexp(z, { axis, keepdims: true }), [x], {}, "logsumexp keepdims");
    });
  }

  const v = randn(r, [5]);
  const s = naiveSoftmax([...v.data]);
  const softmaxJacobian = Float64Array.from({ length: 25 }, (_, k) => {
    const i = Math.floor(k / 5);
    const j = k % 5;
    return (i === j ? s[i]! : 0) - s[i]! * s[j]!;
  });
  test("closed forms: ∇logsumexp = softmax; J(softmax) = ∇²logsumexp = diag(s) − s sᵀ; J(logSoftmax) = I − 1 sᵀ", () => {
    assertClose(grad((z: Tensor) => logsumexp(z))(v) as Tensor, s, { rtol: 1e-14 });
    assertClose((jacfwd(softmax)(v) as Tensor).data, softmaxJacobian, { rtol: 1e-13, atol: 1e-16 });
    assertClose((jacrev(softmax)(v) as Tensor).data, softmaxJacobian, { rtol: 1e-13, atol: 1e-16 });
    assertClose((hessian((z: Tensor) => logsumexp(z))(v) as Tensor).data, softmaxJacobian, {
      rtol: 1e-13,
      atol: 1e-16,
    });
    assertClose((jacrev(grad((z: Tensor) => logsumexp(z)))(v) as Tensor).data, softmaxJacobian, {
      rtol: 1e-13,
      atol: 1e-16,
    });
    const jl = Float64Array.from({ length: 25 }, (_, k) => (Math.floor(k / 5) === k % 5 ? 1 : 0) - s[k % 5]!);
    assertClose((jacrev(logSoftmax)(v) as Tensor).data, jl, { rtol: 1e-13, atol: 1e-15 });
    assertClose((jacfwd(logSoftmax)(v) as Tensor).data, jl, { rtol: 1e-13, atol: 1e-15 });
  });
  test("softmax VJP is s ⊙ (g − Σ g s)", () => {
    const g = randn(r, [5]);
    const [, pullback] = vjp(softmax, v);
    const gs = g.data.reduce((acc, gi, i) => acc + gi * s[i]!, 0);
    assertClose(
      pullback(g)[0] as Tensor,
      s.map((si, i) => si * (g.data[i]! - gs)),
      { rtol: 1e-13, atol: 1e-16 },
    );
  });
  test("third derivative of logsumexp: ∂³/∂xᵢ³ = s(1 − s)(1 − 2s)", () => {
    const third = jacfwd(hessian((z: Tensor) => logsumexp(z)))(v) as Tensor;
    for (let i = 0; i < 5; i++) {
      assertClose(third.data[i * 31]!, s[i]! * (1 - s[i]!) * (1 - 2 * s[i]!), { rtol: 1e-11, atol: 1e-15 });
    }
  });
  for (const [name, op] of [
    ["softmax", softmax],
    ["logSoftmax", logSoftmax],
  ] as const) {
    test(`second derivatives of ${name} (weighted sum, axis 0 of a matrix) vs finite differences of the gradient`, () => {
      const m = randn(r, [3, 2]);
      const w = randn(r, [3, 2]);
      const f = (z: Tensor) => sum(mul(w, op(z, 0)));
      const gradF = (z: Tensor) => grad(f)(z) as Tensor;
      const fd = numericJacobian(gradF, [m], 0, 1e-5);
      assertClose((hessian(f)(m) as Tensor).data, fd, { rtol: 1e-6, atol: 1e-8 });
      assertClose((jacrev(gradF)(m) as Tensor).data, fd, { rtol: 1e-6, atol: 1e-8 });
    });
  }
});

describe("logsumexp's derivative at infinite lanes: the limit, never NaN", () => {
  test("+∞ entries share the weight, −∞ lanes are uniform, NaN stays NaN; jvp, vjp, vmap and second order", () => {
    const g = (a: number[]) => [...(grad((x: Tensor) => logsumexp(x))(tensor(a)) as Tensor).data];
    assert.deepEqual(g([Infinity, 1]), [1, 0]);
    assert.deepEqual(g([Infinity, Infinity, 0]), [0.5, 0.5, 0]);
    assert.deepEqual(g([-Infinity, -Infinity]), [0.5, 0.5]);
    assert.ok(g([NaN, Infinity]).every(Number.isNaN));
    // A finite lane beside an infinite one, over axis 0 (strided lanes) and axis 1 (contiguous ones).
    const m = tensor([
      [Infinity, 1],
      [0, -Infinity],
    ]);
    assert.deepEqual((grad((x: Tensor) => sum(logsumexp(x, { axis: 0 })))(m) as Tensor).toArray(), [
      [1, 1],
      [0, 0],
    ]);
    const e = Math.exp(1);
    assertClose(grad((x: Tensor) => sum(logsumexp(x, { axis: 1 })))(m) as Tensor, [
      [1, 0],
      [1, 0],
    ]);
    assert.deepEqual((jacfwd((x: Tensor) => logsumexp(x))(tensor([Infinity, 1])) as Tensor).toArray(), [1, 0]);
    assert.ok([...(hessian((x: Tensor) => logsumexp(x))(tensor([Infinity, 1])) as Tensor).data].every(Number.isFinite));
    assertClose(grad((x: Tensor) => logsumexp(x))(tensor([1, 2])) as Tensor, [1 / (1 + e), e / (1 + e)]);
    // softmax itself is unchanged: its value at a +∞ entry is NaN (∞ − ∞), as in NumPy and JAX.
    assert.ok(Number.isNaN(softmax(tensor([Infinity, 1])).data[0]!));
  });
});

describe("errors and aliases", () => {
  test("a scalar or a bad axis throws a ValueError naming the op", () => {
    assert.throws(
      () => softmax(tensor(1)),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("softmax:"),
    );
    assert.throws(
      () => logSoftmax(tensor([1, 2]), 1),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("logSoftmax:") && e.message.includes("axis 1"),
    );
    assert.throws(
      () => softmax(tensor([[1, 2]]), [0, 0]),
      (e: unknown) => e instanceof ValueError && e.message.includes("repeated axis"),
    );
    assert.throws(
      () => logsumexp(tensor([1, 2]), { axis: -2 }),
      (e: unknown) => e instanceof ValueError && e.message.startsWith("logsumexp:"),
    );
  });
  test("method aliases", () => {
    const x = tensor([
      [1, 2],
      [3, 5],
    ]);
    assert.deepEqual(x.softmax().toArray(), softmax(x).toArray());
    assert.deepEqual(x.logSoftmax(0).toArray(), logSoftmax(x, 0).toArray());
    assert.deepEqual(x.logsumexp({ axis: 1 }).toArray(), logsumexp(x, { axis: 1 }).toArray());
  });
});

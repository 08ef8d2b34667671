/**
 * vmap nested with every other transform, in both orders, against loops and finite differences: per-example
 * gradients, grad of a vmapped function, vmap of vmap, Jacobians and Hessians of and under vmap, custom rules
 * under vmap, and the per-element fallback for custom calls, with derivatives through it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  vmap,
  grad,
  valueAndGrad,
  jvp,
  vjp,
  jacfwd,
  jacrev,
  hessian,
  stopGradient,
  customJvp,
  customVjp,
  add,
  mul,
  sub,
  div,
  sum,
  square,
  sin,
  exp,
  log1p,
  sigmoid,
  sqrt,
  tanh,
  matmul,
  mean,
  BatchingError,
  random,
  eye,
  stack,
} from "../src/index.js";
import { customCall, type CustomRule } from "../src/core/custom.js";
import { batchLoop } from "../src/core/vmap.js";
import { checkDerivatives, randn, rng } from "./helpers.js";
import { assertTreeClose, elementAt, loopRef } from "./vmap-helpers.js";

const r = rng(5);

describe("vmap: per-example gradients", () => {
  test("linear model: vmap(grad(loss), { inAxes: [null, 0, 0] }) equals the loop of grads", () => {
    const n = 5;
    const d = 3;
    const w = { a: randn(r, [d]), b: randn(r, []) };
    const X = randn(r, [n, d]);
    const y = randn(r, [n]);
    const loss = (p: typeof w, x: Tensor, t: Tensor) => square(sub(add(sum(mul(p.a, x)), p.b), t));
    const got = vmap(grad(loss), { inAxes: [null, 0, 0] })(w, X, y);
    for (let i = 0; i < n; i++) {
      const gi = grad(loss)(w, elementAt(X, 0, i), elementAt(y, 0, i));
      assertTreeClose(elementAt(got.a, 0, i), gi.a, 1e-12, `a ${i}`);
      assertTreeClose(elementAt(got.b, 0, i), gi.b, 1e-12, `b ${i}`);
    }
    // and their mean is the full-batch gradient
    const full = grad((p: typeof w) => mean(vmap((x: Tensor, t: Tensor) => loss(p, x, t))(X, y)))(w);
    assertTreeClose(mean(got.a, { axis: 0 }), full.a, 1e-12);
  });

  test("valueAndGrad under vmap returns per-example values and gradients", () => {
    const X = randn(r, [4, 2]);
    const f = (x: Tensor) => sum(sin(x));
    const [v, g] = vmap(valueAndGrad(f))(X);
    assertTreeClose(v, loopRef(f, [X], [0]) as Tensor);
    assertTreeClose(g, loopRef(grad(f), [X], [0]) as Tensor);
  });
});

describe("vmap: nesting orders", () => {
  const f = (x: Tensor) => mul(sin(x), sum(exp(x)));
  const X = randn(r, [3, 2]);

  test("grad(vmap(f)) matches finite differences and the loop", () => {
    const total = (x: Tensor) => sum(square(vmap(f)(x)));
    checkDerivatives(total, [X]);
    const loopTotal = (x: Tensor) => sum(square(f(x)));
    const ref = loopRef(grad(loopTotal), [X], [0]) as Tensor;
    assertTreeClose(grad(total)(X), ref, 1e-12);
  });

  test("derivatives of a vmapped function over a non-leading axis, finite differences", () => {
    const g = (x: Tensor) => vmap(f, { inAxes: 1, outAxes: 1 })(x);
    checkDerivatives(g, [randn(r, [2, 3])]);
  });

  test("vmap(vmap(f)) equals the double loop, in both axis orders", () => {
    const g = (a: Tensor, b: Tensor) => mul(tanh(a), b);
    const A = randn(r, [3, 2]);
    const Bm = randn(r, [4, 2]);
    const got = vmap(vmap(g, { inAxes: [null, 0] }), { inAxes: [0, null] })(A, Bm);
    assert.deepEqual(got.shape, [3, 4, 2]);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        assertTreeClose(elementAt(elementAt(got, 0, i), 0, j), g(elementAt(A, 0, i), elementAt(Bm, 0, j)), 1e-12);
      }
    }
    const inner = vmap(vmap(g), { inAxes: 1, outAxes: 1 })(randn(r, [2, 3, 2]), randn(r, [2, 3, 2]));
    assert.deepEqual(inner.shape, [2, 3, 2]);
  });

  test("jacfwd(vmap(f)), jacrev(vmap(f)) and vmap(jacfwd(f)) agree with the per-element Jacobians", () => {
    const perElement = vmap(jacfwd(f))(X);
    const rev = vmap(jacrev(f))(X);
    assertTreeClose(rev, perElement, 1e-12);
    for (let i = 0; i < 3; i++) assertTreeClose(elementAt(perElement, 0, i), jacfwd(f)(elementAt(X, 0, i)), 1e-12);
    const full = jacfwd(vmap(f))(X); // [3, 2, 3, 2], block diagonal in the batch
    const fullRev = jacrev(vmap(f))(X);
    assertTreeClose(fullRev, full, 1e-12);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        const block = elementAt(elementAt(full, 0, i), 1, j);
        assertTreeClose(block, i === j ? elementAt(perElement, 0, i) : mul(block, 0), 1e-12);
      }
    }
  });

  test("vmap(jvp(...)) and vmap(vjp(...)): batched tangents and cotangents", () => {
    const T = randn(r, [3, 2]);
    const [ys, ts] = vmap((x: Tensor, t: Tensor) => jvp(f, [x], [t]))(X, T);
    assertTreeClose(ys, loopRef(f, [X], [0]) as Tensor);
    assertTreeClose(ts, loopRef((x, t) => jvp(f, [x], [t])[1], [X, T], [0, 0]) as Tensor, 1e-12);
    // one point, a batch of tangents: the Jacobian applied to each
    const x0 = elementAt(X, 0, 0);
    const tangentsOut = vmap((t: Tensor) => jvp(f, [x0], [t])[1])(T);
    assertTreeClose(tangentsOut, matmul(T, transposeOf(jacfwd(f)(x0))), 1e-12);
    const cts = vmap((u: Tensor) => vjp(f, x0)[1](u)[0])(T);
    assertTreeClose(cts, matmul(T, jacrev(f)(x0)), 1e-12);
  });

  test("vmap(hessian(f)) equals the loop of Hessians; grad through vmap(grad)", () => {
    const s = (x: Tensor) => sum(mul(sin(x), exp(x)));
    assertTreeClose(vmap(hessian(s))(X), loopRef(hessian(s), [X], [0]) as Tensor, 1e-12);
    const g2 = (x: Tensor) => sum(vmap(grad(s))(x));
    checkDerivatives(g2, [X]);
  });

  test("stopGradient keeps the batch", () => {
    const got = vmap((x: Tensor) => mul(x, stopGradient(x)))(tensor([1, 2, 3]));
    assertTreeClose(got, tensor([1, 4, 9]));
    const g = vmap(grad((x: Tensor) => mul(x, stopGradient(x))))(tensor([1, 2, 3]));
    assertTreeClose(g, tensor([1, 2, 3]));
    assert.throws(() => vmap((x: Tensor) => stopGradient(x).item())(tensor([1, 2])), BatchingError);
  });
});

function transposeOf(m: Tensor): Tensor {
  return m.transpose();
}

describe("vmap: custom rules", () => {
  let fCalls = 0;
  const softplus = customJvp(
    (x: Tensor) => (fCalls++, log1p(exp(x))),
    ([x]: Tensor[], [t]: Tensor[]) => [log1p(exp(x)), mul(t, sigmoid(x))],
  );
  const mySqrt = customVjp(
    (x: Tensor) => sqrt(x),
    (x: Tensor) => {
      const y = sqrt(x);
      return [y, y];
    },
    (y: Tensor, g: Tensor) => [div(mul(g, 0.5), y)],
  );
  // a rule that is deliberately not the derivative: proves the custom rule (not f's own derivative) is used
  const fake = customVjp(
    (x: Tensor, w: Tensor) => mul(x, w),
    (x: Tensor, w: Tensor) => [mul(x, w), [x, w]],
    ([x, w]: Tensor[], g: Tensor) => [mul(g, mul(w, 10)), mul(g, mul(x, 100))],
  );

  test("customJvp: f runs once on the whole batch; the rule is used under vmap and around it", () => {
    const X = randn(r, [4]);
    fCalls = 0;
    assertTreeClose(vmap(softplus)(X), log1p(exp(X)), 1e-12);
    assert.equal(fCalls, 1);
    assertTreeClose(vmap(grad(softplus))(X), sigmoid(X), 1e-12);
    assertTreeClose(grad((x: Tensor) => sum(vmap(softplus)(x)))(X), sigmoid(X), 1e-12);
    checkDerivatives((x: Tensor) => vmap(softplus)(x), [X]);
    // second order through the rule: d/dx sigmoid = s(1 - s)
    const s = sigmoid(X);
    assertTreeClose(vmap(grad(grad(softplus)))(X), mul(s, sub(1, s)), 1e-10);
  });

  test("customVjp under vmap with batched and unbatched arguments: cotangents of shared ones are summed", () => {
    const X = add(square(randn(r, [3])), 0.5);
    assertTreeClose(vmap(grad(mySqrt))(X), div(0.5, sqrt(X)), 1e-12);
    assertTreeClose(grad((x: Tensor) => sum(vmap(mySqrt)(x)))(X), div(0.5, sqrt(X)), 1e-12);
    const w = tensor(2);
    const xs = tensor([1, 2, 3]);
    const [gx, gw] = grad((x: Tensor, v: Tensor) => sum(vmap(fake, { inAxes: [0, null] })(x, v)), {
      argnums: [0, 1],
    })(xs, w);
    assertTreeClose(gx, tensor([20, 20, 20]));
    assertTreeClose(gw, tensor(600)); // Σ 100·x
    const perEx = vmap(grad(fake, { argnums: 1 }), { inAxes: [0, null] })(xs, w);
    assertTreeClose(perEx, tensor([100, 200, 300]));
    // vmap(jvp) with batched points and tangents, jacfwd of the vmapped function (batch inside and outside)
    const T = randn(r, [3]);
    const perT = vmap((x: Tensor, u: Tensor) => jvp(mySqrt, [x], [u])[1])(X, T);
    assertTreeClose(perT, div(mul(T, 0.5), sqrt(X)), 1e-12);
    assertTreeClose(jacfwd(vmap(mySqrt))(X), jacrev((x: Tensor) => sqrt(x))(X), 1e-12);
    // forward mode transposes bwd, under vmap too
    const [, t] = jvp((x: Tensor) => vmap(mySqrt)(x), [X], [tensor([1, 0, 0])]);
    assertTreeClose(t, mul(tensor([1, 0, 0]), div(0.5, sqrt(X))), 1e-12);
  });

  test("custom calls without a batching rule run once per element, derivatives included", () => {
    let calls = 0;
    // x³ with hand-written rules, as linear algebra and projections define theirs (no `batch`)
    const cube: CustomRule<null> = {
      name: "cube",
      primal([x]) {
        calls++;
        return { outs: [mul(x!, square(x!))], res: null };
      },
      jvp([x], [t]) {
        return [mul(t!, mul(3, square(x!)))];
      },
      vjp([x], _outs, [ct]) {
        return [ct === null ? null : mul(ct, mul(3, square(x!)))];
      },
    };
    const f = (x: Tensor) => customCall(cube, [x])[0]!;
    const X = randn(r, [4, 2]);
    calls = 0;
    assertTreeClose(vmap(f, { inAxes: 1, outAxes: 1 })(X), mul(X, square(X)), 1e-12);
    assert.equal(calls, 2); // one call per element
    assertTreeClose(vmap(grad((x: Tensor) => sum(f(x))))(X), mul(3, square(X)), 1e-12);
    checkDerivatives((x: Tensor) => sum(square(vmap(f)(x))), [X]);
    checkDerivatives((x: Tensor) => vmap(f, { inAxes: 1 })(x), [X]);
  });
});

describe("Jacobians by batching", () => {
  test("jacfwd, jacrev and hessian call f once (one batched pass), and match finite differences", () => {
    let calls = 0;
    const f = (x: Tensor, y: { a: Tensor }) => (calls++, [mul(sin(x), sum(y.a)), exp(mul(x, 2))]);
    const x = randn(r, [3]);
    const y = { a: randn(r, [2, 2]) };
    calls = 0;
    const jf = jacfwd(f, { argnums: [0, 1] })(x, y);
    assert.equal(calls, 1);
    calls = 0;
    const jr = jacrev(f, { argnums: [0, 1] })(x, y);
    assert.equal(calls, 1);
    assertTreeClose(jr[0]![0], jf[0]![0], 1e-12);
    assertTreeClose(jr[0]![1].a, jf[0]![1].a, 1e-12);
    assertTreeClose(jr[1]![0], jf[1]![0], 1e-12);
    assert.deepEqual(jf[0]![1].a.shape, [3, 2, 2]);
    checkDerivatives((v: Tensor) => f(v, y)[0]!, [x]);
    const s = (v: Tensor) => sum(mul(sin(v), exp(v)));
    calls = 0;
    const h = hessian((v: Tensor) => (calls++, s(v)))(x);
    assert.equal(calls, 1);
    assertTreeClose(h, jacfwd(jacrev(s))(x), 1e-12);
  });

  test("a rule that reads numbers makes the Jacobian fall back to one pass per column, with the same result", () => {
    // a custom rule whose JVP reads its tangent's numbers (fine for one tangent, not for a batch of them)
    const reader: CustomRule<null> = {
      name: "reader",
      primal([x]) {
        return { outs: [mul(x!, 3)], res: null };
      },
      jvp(_p, [t]) {
        return [
          tensor(
            t!.toFloat64Array().map((v) => 3 * v),
            t!.shape,
          ),
        ];
      },
      vjp(_p, _o, [ct]) {
        return [
          ct === null
            ? null
            : tensor(
                ct.toFloat64Array().map((v) => 3 * v),
                ct.shape,
              ),
        ];
      },
    };
    const f = (x: Tensor) => customCall(reader, [x])[0]!;
    const x = randn(r, [3]);
    const three = mul(eye(3), 3);
    assertTreeClose(jacfwd(f)(x), three);
    assertTreeClose(jacrev(f)(x), three);
  });

  test("empty inputs and outputs", () => {
    assert.deepEqual(jacfwd((x: Tensor) => mul(x, 2))(tensor([])).shape, [0, 0]);
    assert.deepEqual(jacrev((x: Tensor) => sum(x))(tensor([])).shape, [0]);
    assert.deepEqual(jacrev((x: Tensor) => mul(x, 2))(tensor([])).shape, [0, 0]);
  });
});

describe("vmap: random functions", () => {
  test("bernoulli with a batched p compares the same draws with each element's p", () => {
    const key = random.key(1);
    const ps = tensor([
      [0.1, 0.9, 0.5],
      [0.5, 0.5, 0.5],
    ]);
    const got = vmap((p: Tensor) => random.bernoulli(key, p, [3]))(ps);
    assertTreeClose(got, loopRef((p) => random.bernoulli(key, p, [3]), [ps], [0]) as Tensor);
    assert.throws(
      () => vmap((p: Tensor) => random.bernoulli(key, p, [3]))(tensor([[2, 0, 0]])),
      /must lie in \[0, 1\]/,
    );
    // samples that do not depend on the batch are broadcast: one key, one draw
    const u = vmap((_p: Tensor) => random.uniform(key, [2]))(ps);
    assertTreeClose(u, stack([random.uniform(key, [2]), random.uniform(key, [2])]));
  });
});

describe("batchLoop: library code that reads numbers runs once per element", () => {
  // a "solver" that reads plain numbers: the largest entry's index, as control flow
  const peak = (x: Tensor): { i: Tensor; v: Tensor } => {
    const viaLoop = batchLoop("peak", (v) => peak(v as Tensor), [x]);
    if (viaLoop !== undefined) return viaLoop;
    const values = stopGradient(x).toFloat64Array();
    const i = values.indexOf(Math.max(...values));
    return { i: tensor(i), v: mul(x, tensor(values.map((_, k) => (k === i ? 1 : 0)))).sum() };
  };
  test("outside vmap it is not used; under vmap, vmap(vmap) and grad(vmap) it runs per element", () => {
    assert.equal(
      batchLoop("peak", (v) => v, [tensor([1, 2])]),
      undefined,
    );
    const X = tensor([
      [1, 5, 2],
      [7, 0, 1],
    ]);
    const out = vmap(peak)(X);
    assert.deepEqual(out.i.toArray(), [1, 0]);
    assert.deepEqual(out.v.toArray(), [5, 7]);
    const nested = vmap(vmap(peak))(stack([X, mul(X, -1)]));
    assert.deepEqual(nested.i.toArray(), [
      [1, 0],
      [0, 1],
    ]);
    // a differentiation level above vmap's cannot be split per element: loud, never wrong (write a custom rule)
    assert.throws(() => vmap(grad((v: Tensor) => peak(v).v))(X), BatchingError);
    assertTreeClose(
      grad((v: Tensor) => sum(vmap(peak)(v).v))(X),
      tensor([
        [0, 1, 0],
        [1, 0, 0],
      ]),
    );
    assert.deepEqual(vmap(peak)(tensor([[], []]).reshape([0, 3])).i.shape, [0]);
  });
});

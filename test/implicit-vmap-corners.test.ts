/**
 * Corners of implicit layers under `vmap` with second derivatives, beyond `implicit-vmap-second-order.test.ts`:
 * - `hasAux` layers (and `grad(…, { hasAux: true })` around them) under two vmaps with derivatives inside them,
 *   each aux the element's own;
 * - an operator shared by the batch (θ not batched) with right-hand sides batched both above and beneath a
 *   derivative level, for `customRoot`, `customFixedPoint` and the library's `GradientDescent` and
 *   `ProjectedGradient`;
 * - `inAxes` null for some arguments, `outAxes` ≠ 0, batches of one and of no element, and a singular element.
 * Every batched result is compared with the JavaScript loop of the unbatched computation, the loop with central
 * finite differences, and, for ridge regression, w*(λ, t) = (XᵀX + diag λ)⁻¹Xᵀt, with its closed form.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  GradientDescent,
  ImplicitDiffError,
  ProjectedGradient,
  add,
  customFixedPoint,
  customRoot,
  diag,
  grad,
  hessian,
  jacfwd,
  jacrev,
  jvp,
  linalg,
  matmul,
  mul,
  projection,
  slice,
  square,
  stack,
  sub,
  sum,
  tensor,
  vdot,
  vmap,
  zeros,
  type Tensor,
} from "../src/index.js";
import { assertClose, numericJacobian } from "./helpers.js";
import { loopRef, ridge } from "./vmap-helpers.js";

const rows = (t: Tensor) => Array.from({ length: t.shape[0]! }, (_, b) => slice(t, b));
const loop2 = (grid: Tensor, f: (t: Tensor) => Tensor) => stack(rows(grid).map((r) => stack(rows(r).map(f))));
/** The batched result against the loop: the same computation, element by element. */
const exact = { rtol: 1e-9, atol: 1e-12 };
const fdTol = { rtol: 1e-6, atol: 1e-8 };

const { X, y, loss: lossW } = ridge;
/** Ridge stationarity in w, with one strength per coordinate and the targets t as arguments. */
const ridgeF = (w: Tensor, lam: Tensor, t: Tensor) => add(matmul(X.T, sub(matmul(X, w), t)), mul(lam, w));
const ridgeClosed = (lam: Tensor, t: Tensor) => linalg.solve(add(matmul(X.T, X), diag(lam)), matmul(X.T, t));

/** Finite differences of `g` (vector → vector) at `at`: the reference for a Jacobian of the loop. */
const fdJacobian = (g: (t: Tensor) => Tensor, at: Tensor) => numericJacobian(g, [at], 0, 1e-5);

describe("hasAux implicit layers under two vmaps with second derivatives", () => {
  // the aux X·w* is each element's own (it differs between elements), passed through without derivative
  const layer = customRoot(ridgeF, { hasAux: true })((_init: unknown, lam: Tensor, t: Tensor) => {
    const w = ridgeClosed(lam, t);
    return [w, matmul(X, w)];
  });
  const solve = (lam: Tensor, t: Tensor) => layer(undefined, lam, t) as [Tensor, Tensor];
  const withAux = (lam: Tensor, t: Tensor): [Tensor, Tensor] => {
    const [w, aux] = solve(lam, t);
    return [lossW(w), aux];
  };
  const loss = (lam: Tensor, t: Tensor) => withAux(lam, t)[0];
  const closedLoss = (lam: Tensor, t: Tensor) => lossW(ridgeClosed(lam, t));
  const grid = stack([
    tensor([
      [0.5, 1, 2],
      [0.1, 3, 0.2],
      [2, 0.05, 1],
    ]),
    tensor([
      [1, 1, 1],
      [0.3, 0.7, 4],
      [5, 0.2, 0.6],
    ]),
  ]); // 2 × 3 strengths
  const ys = stack([y, mul(-2, y), add(y, 1), sub(mul(0.5, y), 1)]);

  test("vmap(vmap(grad(f, { hasAux }))): gradients and auxes of every element, over λ and over (λ, data)", () => {
    const g = grad(withAux, { hasAux: true });
    const [gb, ab] = vmap(vmap(g, { inAxes: [0, null] }), { inAxes: [0, null] })(grid, y) as [Tensor, Tensor];
    assertClose(
      gb,
      loop2(grid, (lam) => g(lam, y)[0] as Tensor),
      exact,
      "gradients",
    );
    assertClose(
      ab,
      loop2(grid, (lam) => g(lam, y)[1] as Tensor),
      exact,
      "auxes",
    );
    assertClose(
      ab,
      loop2(grid, (lam) => matmul(X, ridgeClosed(lam, y))),
      exact,
      "auxes: closed form",
    );
    assertClose(
      gb,
      loop2(grid, (lam) => grad(closedLoss)(lam, y) as Tensor),
      exact,
      "gradients: closed form",
    );
    // λ over the outer vmap, the data over the inner one (λ not batched there), 2 × 4
    const lams = slice(grid, 0, [0, 2]);
    const [g2, a2] = vmap(vmap(g, { inAxes: [null, 0] }), { inAxes: [0, null] })(lams, ys) as [Tensor, Tensor];
    const each = (pick: 0 | 1) => stack(rows(lams).map((lam) => stack(rows(ys).map((t) => g(lam, t)[pick] as Tensor))));
    assertClose(g2, each(0), exact, "gradients over (λ, data)");
    assertClose(a2, each(1), exact, "auxes over (λ, data)");
    rows(lams).forEach((lam) =>
      assertClose(
        (g(lam, y)[0] as Tensor).data,
        fdJacobian((l) => loss(l, y), lam),
        fdTol,
        "loop vs finite differences",
      ),
    );
  });

  test("vmap(vmap(·)) of hessian, jacfwd(jacrev), jacrev(jacrev) and jacfwd(grad) of a layer with aux", () => {
    // the aux enters the value (not the derivative: it is passed through without one)
    const f = (lam: Tensor, t: Tensor) => {
      const [w, aux] = solve(lam, t);
      return add(lossW(w), mul(1e-3, sum(aux)));
    };
    const H = loop2(grid, (lam) => hessian(f)(lam, y) as Tensor);
    rows(grid).forEach((r, i) =>
      rows(r).forEach((lam, j) => {
        const Hij = slice(slice(H, i), j);
        assertClose(Hij.data, fdJacobian(grad((l: Tensor) => f(l, y)) as (l: Tensor) => Tensor, lam), fdTol, "FD");
        assertClose(Hij, hessian(closedLoss)(lam, y) as Tensor, exact, "closed form");
      }),
    );
    const second = {
      hessian: hessian(f),
      "jacfwd(jacrev)": jacfwd(jacrev(f)),
      "jacrev(jacrev)": jacrev(jacrev(f)),
      "jacfwd(grad)": jacfwd(grad(f)),
    };
    for (const [name, d] of Object.entries(second)) {
      const got = vmap(vmap(d, { inAxes: [0, null] }), { inAxes: [0, null] })(grid, y) as Tensor;
      assertClose(got, H, exact, `vmap(vmap(${name}))`);
    }
  });

  test("grad(grad(…, { hasAux })) with the aux passed up both levels, under two vmaps", () => {
    const v = tensor([1, -0.5, 0.3]);
    // the curvature along v, and the layer's aux through both gradients
    const hv = (lam: Tensor, t: Tensor) =>
      grad(
        (l: Tensor) => {
          const [gl, aux] = grad(withAux, { hasAux: true })(l, t) as [Tensor, Tensor];
          return [vdot(gl, v), aux];
        },
        { hasAux: true },
      )(lam) as [Tensor, Tensor];
    const [got, aux] = vmap(vmap(hv, { inAxes: [0, null] }), { inAxes: [0, null] })(grid, y) as [Tensor, Tensor];
    assertClose(
      got,
      loop2(grid, (lam) => hv(lam, y)[0]),
      exact,
      "H v",
    );
    assertClose(
      aux,
      loop2(grid, (lam) => hv(lam, y)[1]),
      exact,
      "aux",
    );
    assertClose(
      got,
      loop2(grid, (lam) => matmul(hessian(closedLoss)(lam, y) as Tensor, v)),
      exact,
      "H v: closed form",
    );
  });

  test("vmap over λ of the Hessian of a sum over a vmap of the layer (aux batched inside, over the data)", () => {
    const h = (lam: Tensor) => {
      const [W, A] = vmap((t: Tensor) => solve(lam, t))(ys) as [Tensor, Tensor];
      return add(sum(square(W)), mul(1e-2, sum(A)));
    };
    const hLoop = (lam: Tensor) =>
      rows(ys)
        .map((t) => {
          const [w, a] = solve(lam, t);
          return add(sum(square(w)), mul(1e-2, sum(a)));
        })
        .reduce((p, q) => add(p, q));
    const lams = grid.reshape([6, 3]);
    const H = stack(rows(lams).map((lam) => hessian(hLoop)(lam) as Tensor));
    assertClose(vmap(hessian(h))(lams) as Tensor, H, exact, "vmap(hessian(sum ∘ vmap(layer)))");
    const lam = slice(lams, 1);
    assertClose(slice(H, 1).data, fdJacobian(grad(hLoop) as (l: Tensor) => Tensor, lam), fdTol, "FD");
  });

  test("batches of no element and of one at second order, at either vmap level", () => {
    const g = grad(withAux, { hasAux: true });
    const nested = (lams: Tensor) =>
      vmap(vmap(g, { inAxes: [0, null] }), { inAxes: [0, null] })(lams, y) as [Tensor, Tensor];
    for (const shape of [
      [0, 3, 3],
      [2, 0, 3],
    ]) {
      const [gb, ab] = nested(zeros(shape));
      assert.deepEqual(gb.shape, shape, "gradients of an empty batch");
      assert.deepEqual(ab.shape, [...shape.slice(0, 2), 5], "auxes of an empty batch");
    }
    const one = slice(grid, [0, 1], [1, 2]); // 1 × 1 × 3
    const [g1, a1] = nested(one);
    assertClose(
      g1,
      loop2(one, (lam) => g(lam, y)[0] as Tensor),
      exact,
      "1 × 1 gradients",
    );
    assertClose(
      a1,
      loop2(one, (lam) => g(lam, y)[1] as Tensor),
      exact,
      "1 × 1 auxes",
    );
    const H = vmap(vmap(hessian(loss), { inAxes: [0, null] }), { inAxes: [0, null] });
    assertClose(
      H(one, y) as Tensor,
      loop2(one, (lam) => hessian(closedLoss)(lam, y) as Tensor),
      exact,
      "1 × 1 H",
    );
    assert.deepEqual((H(zeros([2, 0, 3]), y) as Tensor).shape, [2, 0, 3, 3]);
    assert.deepEqual((H(zeros([0, 2, 3]), y) as Tensor).shape, [0, 2, 3, 3]);
  });
});

describe("an operator shared by the batch, right-hand sides batched above and beneath a derivative", () => {
  const eta = 0.05;
  const T = (w: Tensor, lam: Tensor, t: Tensor) => sub(w, mul(eta, ridgeF(w, lam, t)));
  const fixedPoint = customFixedPoint(T)((w0: Tensor, lam: Tensor, t: Tensor) => {
    let w = w0;
    for (let it = 0; it < 20000; it++) {
      const next = T(w, lam, t);
      if (sum(square(sub(next, w))).item() < 1e-32) return next;
      w = next;
    }
    return w;
  });
  const fun = (w: Tensor, lam: Tensor, t: Tensor) =>
    add(mul(0.5, sum(square(sub(matmul(X, w), t)))), mul(0.5, vdot(lam, square(w))));
  const gd = new GradientDescent({ fun, tol: 1e-12, maxIter: 20000 });
  const pg = new ProjectedGradient({
    fun,
    projection: (x: Tensor) => projection.nonNegative(x),
    tol: 1e-12,
    maxIter: 20000,
  });
  const root = customRoot(ridgeF)((_init: unknown, lam: Tensor, t: Tensor) => ridgeClosed(lam, t));
  // The ridge layers solve the same problem: the closed form checks them; ProjectedGradient (w ≥ 0) has active
  // bounds, and finite differences check it.
  const layers: [string, (lam: Tensor, t: Tensor) => Tensor, boolean, { rtol: number; atol: number }][] = [
    ["customRoot (a linear solve)", (lam, t) => root(undefined, lam, t) as Tensor, true, fdTol],
    ["customFixedPoint", (lam, t) => fixedPoint(tensor([0, 0, 0]), lam, t) as Tensor, true, fdTol],
    ["GradientDescent.run", (lam, t) => gd.run(tensor([0, 0, 0]), lam, t).params as Tensor, true, fdTol],
    [
      "ProjectedGradient.run",
      (lam, t) => pg.run(tensor([0.1, 0.1, 0.1]), null, lam, t).params as Tensor,
      false,
      { rtol: 1e-5, atol: 1e-7 },
    ],
  ];
  const lam0 = tensor([0.5, 1, 2]);
  const Y1 = stack([y, mul(-0.5, y)]); // the batch above the derivative
  const Y2 = stack([add(y, 0.3), mul(2, y), sub(y, 1)]); // the batch beneath it
  const V = tensor([
    [1, 0, 0],
    [0.3, -1, 2],
  ]);

  for (const [name, layer, ridge, fd] of layers) {
    const closed = (lam: Tensor, t: Tensor) => (ridge ? ridgeClosed(lam, t) : layer(lam, t));
    const inner = (lam: Tensor, y1: Tensor) => sum(vmap((t: Tensor) => lossW(layer(lam, add(y1, t))))(Y2) as Tensor);
    const innerLoop = (w: typeof layer) => (lam: Tensor, y1: Tensor) =>
      rows(Y2)
        .map((t) => lossW(w(lam, add(y1, t))))
        .reduce((a, b) => add(a, b));
    const loopOf = innerLoop(layer);
    const closedOf = innerLoop(closed);

    test(`${name}: vmap over data of grad / hessian / jacfwd(jacrev) / grad(grad) of a sum over a vmap of data`, () => {
      const H = stack(rows(Y1).map((y1) => hessian((l: Tensor) => loopOf(l, y1))(lam0) as Tensor));
      rows(Y1).forEach((y1, b) => {
        const Hb = slice(H, b);
        assertClose(Hb.data, fdJacobian(grad((l: Tensor) => loopOf(l, y1)) as (l: Tensor) => Tensor, lam0), fd, "FD");
        if (ridge) assertClose(Hb, hessian((l: Tensor) => closedOf(l, y1))(lam0) as Tensor, fdTol, "closed form");
      });
      const G = stack(rows(Y1).map((y1) => grad((l: Tensor) => loopOf(l, y1))(lam0) as Tensor));
      assertClose(vmap((y1: Tensor) => grad((l: Tensor) => inner(l, y1))(lam0))(Y1) as Tensor, G, exact, "grad");
      const nested = {
        hessian: (y1: Tensor) => hessian((l: Tensor) => inner(l, y1))(lam0),
        "jacfwd(jacrev)": (y1: Tensor) => jacfwd(jacrev((l: Tensor) => inner(l, y1)))(lam0),
        "jacrev(grad)": (y1: Tensor) => jacrev(grad((l: Tensor) => inner(l, y1)))(lam0),
      };
      for (const [what, d] of Object.entries(nested)) assertClose(vmap(d)(Y1) as Tensor, H, exact, what);
      const v = tensor([1, -0.5, 0.3]);
      const curvature = vmap((y1: Tensor) => grad(grad((s: Tensor) => inner(add(lam0, mul(s, v)), y1)))(tensor(0)))(
        Y1,
      ) as Tensor;
      assertClose(curvature, tensor(rows(H).map((Hb) => vdot(v, matmul(Hb, v)).item())), exact, "grad(grad)");
    });

    test(`${name}: the vmap over λ outside, over the data inside; a matrix-valued jacrev between two data vmaps`, () => {
      const lams = stack([lam0, tensor([0.1, 3, 0.2])]);
      const H = stack(rows(lams).map((l) => hessian((m: Tensor) => loopOf(m, y))(l) as Tensor));
      assertClose(vmap(hessian((l: Tensor) => inner(l, y)))(lams) as Tensor, H, exact, "vmap(hessian)");
      assertClose(
        slice(H, 1).data,
        fdJacobian(grad((m: Tensor) => loopOf(m, y)) as (l: Tensor) => Tensor, slice(lams, 1)),
        fd,
        "FD",
      );
      const J = vmap((y1: Tensor) => jacrev((l: Tensor) => vmap((t: Tensor) => layer(l, add(y1, t)))(Y2))(lam0))(Y1);
      const Jloop = stack(
        rows(Y1).map((y1) => jacrev((l: Tensor) => stack(rows(Y2).map((t) => layer(l, add(y1, t)))))(lam0) as Tensor),
      );
      assertClose(J as Tensor, Jloop, exact, "vmap(jacrev(vmap(layer)))");
      if (ridge) {
        const Jc = jacrev((l: Tensor) => stack(rows(Y2).map((t) => ridgeClosed(l, add(y, t)))))(lam0) as Tensor;
        assertClose(slice(Jloop, 0), Jc, fdTol, "closed form");
      }
    });

    test(`${name}: vmap over cotangent directions v of second derivatives of v·w*(λ) (λ and data shared)`, () => {
      // The operator is the same for every v; only the right-hand sides are batched, beneath the derivatives.
      const f = (v: Tensor) => (l: Tensor) => vdot(v, layer(l, y));
      const H = stack(rows(V).map((v) => hessian(f(v))(lam0) as Tensor));
      rows(V).forEach((v, b) => {
        assertClose(slice(H, b).data, fdJacobian(grad(f(v)) as (l: Tensor) => Tensor, lam0), fd, "FD");
        if (ridge) {
          const c = hessian((l: Tensor) => vdot(v, ridgeClosed(l, y)))(lam0) as Tensor;
          assertClose(slice(H, b), c, fdTol, "closed form");
        }
      });
      const second = {
        hessian: (v: Tensor) => hessian(f(v))(lam0),
        "jacfwd(jacrev)": (v: Tensor) => jacfwd(jacrev(f(v)))(lam0),
        "jacrev(jacrev)": (v: Tensor) => jacrev(jacrev(f(v)))(lam0),
        "jacrev(grad)": (v: Tensor) => jacrev(grad(f(v)))(lam0),
        "jacfwd(grad)": (v: Tensor) => jacfwd(grad(f(v)))(lam0),
      };
      for (const [what, d] of Object.entries(second)) assertClose(vmap(d)(V) as Tensor, H, exact, what);
      const d = tensor([1, 0.5, -1]);
      const Hd = stack(rows(H).map((Hb) => matmul(Hb, d)));
      const along = (v: Tensor) => jvp((l: Tensor) => jacrev(f(v))(l), [lam0], [d])[1];
      assertClose(vmap(along)(V) as Tensor, Hd, exact, "jvp(jacrev)");
      const gg = (v: Tensor) => grad(grad((s: Tensor) => f(v)(add(lam0, mul(s, d)))))(tensor(0));
      assertClose(vmap(gg)(V) as Tensor, tensor(rows(Hd).map((h) => vdot(d, h).item())), exact, "grad(grad)");
    });
  }
});

describe("inAxes, outAxes and a singular element at second order", () => {
  const layer = customRoot(ridgeF)((_init: unknown, lam: Tensor, t: Tensor) => ridgeClosed(lam, t));
  const f = (lam: Tensor, t: Tensor) => lossW(layer(undefined, lam, t) as Tensor);
  const closed = (lam: Tensor, t: Tensor) => lossW(ridgeClosed(lam, t));
  const lams = tensor([
    [0.5, 1, 2],
    [1, 2, 3],
  ]);
  const ys = stack([y, mul(2, y), add(y, 1)]);

  test("outAxes 2 and −1 with inAxes null, against the loop moved to the same axis", () => {
    const H = (lam: Tensor, t: Tensor) => hessian(f)(lam, t) as Tensor;
    const Hc = (lam: Tensor, t: Tensor) => hessian(closed)(lam, t) as Tensor;
    const got = vmap(hessian(f), { inAxes: [0, null], outAxes: 2 })(lams, y) as Tensor;
    assertClose(got, loopRef(H, [lams, y], [0, null], 2) as Tensor, exact, "outAxes 2");
    assertClose(got, loopRef(Hc, [lams, y], [0, null], 2) as Tensor, exact, "outAxes 2: closed form");
    const nested = vmap(vmap(hessian(f), { inAxes: [null, 0], outAxes: -1 }), { inAxes: [0, null], outAxes: 1 })(
      lams,
      ys,
    ) as Tensor;
    const ref = loopRef((lam) => loopRef((t) => H(lam, t), [ys], [0], 2) as Tensor, [lams], [0], 1) as Tensor;
    assert.deepEqual(nested.shape, [3, 2, 3, 3]);
    assertClose(nested, ref, exact, "outAxes 1 around outAxes −1");
    // ref[:, 1, :, 2]: the Hessian at λ = lams[1] for the data ys[2]
    assertClose(
      slice(slice(ref, [0, 3], 1), [0, 3], [0, 3], 2).data,
      fdJacobian(grad((l: Tensor) => f(l, slice(ys, 2))) as (l: Tensor) => Tensor, slice(lams, 1)),
      fdTol,
      "FD",
    );
  });

  test("empty and single-element batches of a second derivative (λ batched, or the data)", () => {
    const H = vmap(hessian(f), { inAxes: [0, null] });
    assert.deepEqual((H(zeros([0, 3]), y) as Tensor).shape, [0, 3, 3]);
    const Hy = vmap(hessian(f), { inAxes: [null, 0] });
    assert.deepEqual((Hy(tensor([0.5, 1, 2]), zeros([0, 5])) as Tensor).shape, [0, 3, 3]);
    assert.deepEqual((vmap(grad(f), { inAxes: [0, null] })(zeros([0, 3]), y) as Tensor).shape, [0, 3]);
    const one = slice(lams, [0, 1]);
    assertClose(H(one, y) as Tensor, stack([hessian(closed)(slice(lams, 0), y) as Tensor]), exact, "one element");
    assertClose(
      Hy(slice(lams, 0), slice(ys, [1, 2])) as Tensor,
      stack([hessian(closed)(slice(lams, 0), slice(ys, 1)) as Tensor]),
      exact,
      "one data element",
    );
  });

  test("a singular element under two vmaps is named, at second order and with hasAux", () => {
    // F(x, θ) = θ₀·x − θ₁: M = θ₀, singular where θ₀ = 0 (grid element [1][1])
    const F = (x: Tensor, th: Tensor) => sub(mul(slice(th, [0, 1]), x), slice(th, [1, 2]));
    const solver = (_init: unknown, th: Tensor) => {
      const [a, b] = th.data;
      return tensor([a === 0 ? 0 : b! / a!]);
    };
    const plain = customRoot(F)(solver);
    const withAux = customRoot(F, { hasAux: true })((i: unknown, th: Tensor) => [solver(i, th), th]);
    const grid = tensor([
      [
        [1, 2],
        [2, 1],
        [3, 1],
      ],
      [
        [1, 1],
        [0, 0],
        [2, 2],
      ],
    ]);
    const fs = {
      plain: (th: Tensor) => sum(square(plain(undefined, th) as Tensor)),
      hasAux: (th: Tensor) => sum(square((withAux(undefined, th) as [Tensor, Tensor])[0])),
    };
    for (const [what, g] of Object.entries(fs)) {
      const d = {
        hessian: hessian(g),
        "grad(grad)": (th: Tensor) => grad(grad((s: Tensor) => g(mul(th, s))))(tensor(1)),
      };
      for (const [name, h] of Object.entries(d)) {
        assert.throws(
          () => vmap(vmap(h))(grid),
          (e: Error) =>
            e instanceof ImplicitDiffError &&
            /vmap batch element 1 of 3\) \(vmap batch element 1 of 2\)/.test(e.message),
          `${what}: ${name}`,
        );
      }
    }
  });
});

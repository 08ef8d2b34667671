/**
 * Second-order derivatives of implicit layers inside `vmap`: `vmap(hessian(f))`, `vmap(grad(grad(f)))`,
 * `vmap(jacfwd(grad(f)))` and `vmap(jacrev(grad(f)))`, where the batch sits beneath the derivative levels. Each
 * element must get the derivative of the unbatched call (a JavaScript loop of `hessian(f)`), which finite
 * differences of `grad(f)` (and a closed form, for ridge regression) confirm; each element's solve is certified on
 * its own, and its errors name it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  GradientDescent,
  ImplicitDiffError,
  InteriorPointQP,
  add,
  customFixedPoint,
  customRoot,
  diag,
  grad,
  hessian,
  jacfwd,
  jacrev,
  linalg,
  matmul,
  mul,
  objective,
  slice,
  square,
  stack,
  sub,
  sum,
  tanh,
  tensor,
  vdot,
  vmap,
  type Tensor,
} from "../src/index.js";
import { assertClose, numericJacobian } from "./helpers.js";
import { ridge } from "./vmap-helpers.js";

const rows = (t: Tensor) => Array.from({ length: t.shape[0]! }, (_, b) => slice(t, b));
const tight = { rtol: 1e-9, atol: 1e-11 };

/**
 * Checks every nesting of `vmap` around a second derivative of `f` (θ a vector) against the loop of Hessians, and
 * the loop against finite differences of `grad(f)` (and `closed`, the Hessian of a closed form, when given).
 */
function checkSecondOrder(
  f: (theta: Tensor) => Tensor,
  thetas: Tensor,
  fd: { rtol: number; atol: number },
  closed?: (theta: Tensor) => Tensor,
) {
  const H = stack(rows(thetas).map((t) => hessian(f)(t)));
  rows(thetas).forEach((t, b) => {
    assertClose(
      rows(H)[b]!.data,
      numericJacobian(grad(f) as (t: Tensor) => Tensor, [t], 0, 1e-5),
      fd,
      `element ${b}: FD`,
    );
    if (closed) assertClose(rows(H)[b]!, closed(t), tight, `element ${b}: closed form`);
  });
  assertClose(vmap(hessian(f))(thetas) as Tensor, H, tight, "vmap(hessian(f))");
  assertClose(vmap(jacfwd(grad(f)))(thetas) as Tensor, H, tight, "vmap(jacfwd(grad(f)))");
  assertClose(vmap(jacrev(grad(f)))(thetas) as Tensor, H, tight, "vmap(jacrev(grad(f)))");
  // grad(grad(·)) needs a scalar argument: the curvature vᵀH v along a direction, at each element's θ
  const v = tensor(Array.from({ length: thetas.shape[1]! }, (_, i) => 1 - 0.7 * i));
  const along = (t: Tensor) => grad(grad((s: Tensor) => f(add(t, mul(s, v)))))(tensor(0)) as Tensor;
  const curvature = rows(H).map((Hb) => vdot(v, matmul(Hb, v)).item());
  assertClose(vmap(along)(thetas) as Tensor, tensor(curvature), tight, "vmap(grad(grad(f)))");
}

// Ridge regression with one regularisation strength per coordinate: w*(λ) = (XᵀX + diag λ)⁻¹Xᵀy.
const { X, y, loss: ridgeLoss } = ridge;
const ridgeF = (w: Tensor, lam: Tensor) => add(matmul(X.T, sub(matmul(X, w), y)), mul(lam, w));
const ridgeClosed = (lam: Tensor) => linalg.solve(add(matmul(X.T, X), diag(lam)), matmul(X.T, y));
const lams = tensor([
  [0.5, 1, 2],
  [0.1, 3, 0.2],
  [2, 0.05, 1],
]);

describe("second-order derivatives of implicit layers under vmap", () => {
  test("customRoot ridge layer: every nesting matches the loop, finite differences and the closed form", () => {
    const ridge = customRoot(ridgeF)((_init: unknown, lam: Tensor) => ridgeClosed(lam));
    const f = (lam: Tensor) => ridgeLoss(ridge(undefined, lam) as Tensor);
    checkSecondOrder(
      f,
      lams,
      { rtol: 1e-6, atol: 1e-8 },
      hessian((lam: Tensor) => ridgeLoss(ridgeClosed(lam))),
    );
  });

  test("customRoot ridge layer: nested vmaps, and a θ shared by the batch (the data batched)", () => {
    const layer = customRoot((w: Tensor, lam: Tensor, t: Tensor) =>
      add(matmul(X.T, sub(matmul(X, w), t)), mul(lam, w)),
    )((_init: unknown, lam: Tensor, t: Tensor) => linalg.solve(add(matmul(X.T, X), diag(lam)), matmul(X.T, t)));
    const f = (lam: Tensor, t: Tensor) => ridgeLoss(layer(undefined, lam, t) as Tensor);
    const closed = (lam: Tensor, t: Tensor) => ridgeLoss(linalg.solve(add(matmul(X.T, X), diag(lam)), matmul(X.T, t)));
    const grid = stack([lams, add(lams, 0.25)]); // 2×3 strengths
    const nested = vmap(vmap(hessian((lam: Tensor) => f(lam, y))))(grid) as Tensor;
    const loop = stack(rows(grid).map((r) => stack(rows(r).map((lam) => hessian(closed)(lam, y) as Tensor))));
    assertClose(nested, loop, tight, "vmap(vmap(hessian(f)))");
    // θ shared, the targets batched: each element still has its own Hessian (not the batch's sum)
    const ys = stack([y, mul(-2, y), add(y, 1)]);
    const lam = tensor([0.5, 1, 2]);
    const shared = vmap(hessian(f), { inAxes: [null, 0] })(lam, ys) as Tensor;
    assertClose(shared, stack(rows(ys).map((t) => hessian(closed)(lam, t) as Tensor)), tight, "shared θ");
  });

  test("customFixedPoint layer: every nesting matches the loop and finite differences", () => {
    const W = tensor([
      [0.4, -0.3],
      [0.2, 0.5],
    ]);
    const T = (x: Tensor, th: Tensor) => add(mul(0.8, tanh(add(matmul(W, x), th))), mul(0.3, th));
    const fp = customFixedPoint(T)((x0: Tensor, th: Tensor) => {
      let x = x0;
      for (let it = 0; it < 500 && sum(square(sub(T(x, th), x))).item() > 1e-30; it++) x = T(x, th);
      return x;
    });
    const f = (th: Tensor) => {
      const x = fp(tensor([0, 0]), th) as Tensor;
      return add(sum(square(x)), vdot(x, tensor([1, -0.5])));
    };
    const ths = tensor([
      [0.1, -0.2],
      [1, 2],
      [-1.5, 0.5],
    ]);
    checkSecondOrder(f, ths, { rtol: 1e-6, atol: 1e-8 });
  });

  test("GradientDescent.run (implicit differentiation): every nesting matches the loop and finite differences", () => {
    const gd = new GradientDescent({ fun: objective.ridgeRegression, tol: 1e-12, maxIter: 5000 });
    // θ = (λ, a scale of the targets)
    const f = (th: Tensor) => {
      const [lam, s] = [slice(th, 0), slice(th, 1)];
      const w = gd.run(tensor([0, 0, 0]), lam, [X, mul(s, y)]).params;
      return ridgeLoss(w);
    };
    const ths = tensor([
      [0.5, 1],
      [2, -0.5],
      [5, 2],
    ]);
    checkSecondOrder(f, ths, { rtol: 1e-5, atol: 1e-7 });
  });

  test("InteriorPointQP with a different active set per element: every nesting matches the loop and FD", () => {
    // min ½xᵀQx + cᵀx s.t. x ≤ 1, x₀ + x₁ + x₂ ≤ 1.5; θ = c
    const Q = tensor([
      [2, 0.5, 0],
      [0.5, 1.5, 0.2],
      [0, 0.2, 1],
    ]);
    const G = tensor([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [1, 1, 1],
    ]);
    const h = tensor([1, 1, 1, 1.5]);
    const qp = new InteriorPointQP();
    const solve = (c: Tensor) => qp.run(undefined, { Q, c, G, h });
    const f = (c: Tensor) => {
      const x = solve(c).params.primal;
      return add(sum(square(x)), mul(sum(x), sum(c)));
    };
    const cs = tensor([
      [0.1, 0.2, -0.3], // interior
      [-4, 0.3, 0.2], // x₀ ≤ 1
      [-4, -4, 0.1], // x₀, x₁ ≤ 1 and the sum
    ]);
    const active = rows(cs).map((c) => Array.from(solve(c).state.active).join(""));
    assert.equal(new Set(active).size, 3, `distinct active sets, got ${active.join(", ")}`);
    checkSecondOrder(f, cs, { rtol: 1e-4, atol: 1e-6 });
  });

  test("an element whose backward solve fails is named, as in the loop", () => {
    // F(x, θ) = θ₀·x − θ₁: M = θ₀, singular where θ₀ = 0
    const layer = customRoot((x: Tensor, th: Tensor) => sub(mul(slice(th, [0, 1]), x), slice(th, [1, 2])))((
      _init: unknown,
      th: Tensor,
    ) => {
      const [a, b] = th.data;
      return tensor([a === 0 ? 0 : b! / a!]);
    });
    const f = (th: Tensor) => sum(square(layer(undefined, th) as Tensor));
    const ths = tensor([
      [1, 2],
      [0, 0],
      [2, 1],
    ]);
    assert.throws(
      () => vmap(hessian(f))(ths),
      (e: Error) => e instanceof ImplicitDiffError && /vmap batch element 1 of 3/.test(e.message),
    );
  });
});

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  ProximalGradient,
  projection,
  prox,
  grad,
  jacrev,
  tensor,
  matmul,
  sum,
  square,
  sub,
  add,
  Tensor,
} from "../src/index.js";
import { assertClose, checkDerivatives } from "./helpers.js";

describe("projections and prox operators on pytrees, leaf by leaf", () => {
  const a = tensor([0.5, 1.2, 0.1]);
  const b = tensor([
    [3, -1],
    [0.2, 0.4],
  ]);

  test("a tuple with a shared parameter and per-leaf parameters (as JAXopt's tuple tests)", () => {
    const [pa, pb] = projection.simplex([a, b], 2) as [Tensor, Tensor];
    assertClose(pa, projection.simplex(a, 2), { atol: 0 });
    assertClose(pb, projection.simplex(b, 2), { atol: 0 });
    const [qa, qb] = projection.box([a, b], [0.2, tensor([[0], [0.3]])], [1, 1]) as [Tensor, Tensor];
    assertClose(qa, projection.box(a, 0.2, 1), { atol: 0 });
    assertClose(qb, projection.box(b, tensor([[0], [0.3]]), 1), { atol: 0 });
  });

  test("a dict with a dict of hyperparameters; options objects are shared", () => {
    const out = prox.lasso({ w: a, v: b }, { w: 0.3, v: tensor(1) }, 0.5) as { w: Tensor; v: Tensor };
    assertClose(out.w, prox.lasso(a, 0.3, 0.5), { atol: 0 });
    assertClose(out.v, prox.lasso(b, 1, 0.5), { atol: 0 });
    const iso = projection.isotonic({ u: a, v: b }, { increasing: false }) as { u: Tensor; v: Tensor };
    assertClose(iso.v, projection.isotonic(b, { increasing: false }), { atol: 0 });
  });

  test("nested arrays of numbers are still tensor literals", () => {
    assertClose(projection.simplex([0.5, 1.2, 0.1]) as Tensor, [0.15, 0.85, 0], { atol: 1e-15 });
    assertClose(prox.lasso([[-2, 0.5]], 1) as Tensor, [[-1, 0]], { atol: 0 });
  });

  test("derivatives flow through every leaf and per-leaf hyperparameter", () => {
    const f = (x: Tensor, r: Tensor, l1: Tensor) => {
      const p = projection.l2Ball({ x, y: x.mul(2) }, { x: r, y: r.mul(3) }) as { x: Tensor; y: Tensor };
      const q = prox.elasticNet([p.x, p.y], [l1, [0.1, 0.2]], 0.5) as Tensor[];
      return add(q[0]!, q[1]!);
    };
    checkDerivatives(f, [tensor([0.9, -0.4]), tensor(0.7), tensor(0.2)], { rtol: 1e-6, atol: 1e-9 });
  });

  test("ProximalGradient on pytree params with a pytree of regularisations", () => {
    const X = tensor([
      [1, 0.5],
      [0, 2],
      [1, 1],
      [0.3, -1],
    ]);
    const y = tensor([1, 2, 3, -1]);
    const fun = (p: { w: Tensor; c: Tensor }, yy: Tensor) => sum(square(sub(add(matmul(X, p.w), p.c), yy))).mul(0.5);
    const solver = new ProximalGradient({ fun, prox: prox.lasso, tol: 1e-12, maxIter: 5000 });
    const init = { w: tensor([0, 0]), c: tensor(0) };
    // an unpenalised intercept: l1reg 0 on c
    const reg = { w: tensor(0.3), c: tensor(0) };
    const { params, state } = solver.run(init, reg, y);
    assert.equal(state.status, "converged");
    // optimality: the intercept's gradient is zero
    const g = grad(fun)(params, y) as { w: Tensor; c: Tensor };
    assertClose(g.c, 0, { atol: 1e-10 });
    const J = jacrev((l: Tensor) => solver.run(init, { w: l, c: tensor(0) }, y).params.w)(tensor(0.3)) as Tensor;
    const eps = 1e-6;
    const fd = solver
      .run(init, { w: tensor(0.3 + eps), c: tensor(0) }, y)
      .params.w.sub(solver.run(init, { w: tensor(0.3 - eps), c: tensor(0) }, y).params.w)
      .div(2 * eps);
    assertClose(J, fd, { rtol: 1e-6, atol: 1e-8 });
  });
});

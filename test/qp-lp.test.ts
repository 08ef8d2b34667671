import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  linearProgram,
  projection,
  QPError,
  ImplicitDiffError,
  grad,
  jacrev,
  tensor,
  eye,
  matmul,
  sum,
  mul,
  neg,
  outer,
  Tensor,
  ValueError,
} from "../src/index.js";
import { assertClose, checkDerivatives } from "./helpers.js";

interface Fixture {
  c: number[];
  A: number[][];
  b: number[];
  G: number[][];
  h: number[];
  x: number[];
  value: number;
  lam: number[];
  nu: number[];
}
// produced by test/fixtures/lp-scipy.py (SciPy linprog, HiGHS)
const fixtures = (
  JSON.parse(readFileSync(new URL("./fixtures/lp-scipy.json", import.meta.url), "utf8")) as { problems: Fixture[] }
).problems;

describe("linearProgram", () => {
  test("a textbook LP: the optimal vertex, its value and its multipliers", () => {
    // max 3x₀ + 5x₁ s.t. x₀ ≤ 4, 2x₁ ≤ 12, 3x₀ + 2x₁ ≤ 18, x ≥ 0 (Hillier & Lieberman): x* = [2, 6], value 36
    const G = tensor([
      [1, 0],
      [0, 2],
      [3, 2],
      [-1, 0],
      [0, -1],
    ]);
    const h = tensor([4, 12, 18, 0, 0]);
    const { params, state } = linearProgram(tensor([-3, -5]), { G, h });
    assert.equal(state.status, "converged");
    assertClose(params.primal, tensor([2, 6]), { atol: 1e-10 });
    assertClose(state.value!, -36, { rtol: 1e-12 });
    // shadow prices of the textbook: 0, 1.5, 1 (per unit of each resource)
    assertClose(params.dualIneq!, tensor([0, 1.5, 1, 0, 0]), { atol: 1e-10 });
  });

  test("SciPy linprog fixtures: solution, value and multipliers", () => {
    for (const [k, f] of fixtures.entries()) {
      const cons = {
        G: tensor(f.G),
        h: tensor(f.h),
        ...(f.b.length > 0 ? { A: tensor(f.A), b: tensor(f.b) } : {}),
      };
      const { params, state } = linearProgram(tensor(f.c), cons);
      assertClose(params.primal, tensor(f.x), { rtol: 1e-7, atol: 1e-8 }, `LP ${k} x`);
      assertClose(state.value!, f.value, { rtol: 1e-9, atol: 1e-10 }, `LP ${k} value`);
      assertClose(params.dualIneq!, tensor(f.lam), { rtol: 1e-6, atol: 1e-8 }, `LP ${k} λ`);
      if (f.nu.length > 0) assertClose(params.dualEq!, tensor(f.nu), { rtol: 1e-6, atol: 1e-8 }, `LP ${k} ν`);
    }
  });

  test("the sensitivity of the optimal value: ∂v/∂c = x*, ∂v/∂h = −λ, ∂v/∂G = λx*ᵀ, ∂v/∂b = −ν, ∂v/∂A = νx*ᵀ", () => {
    const f = fixtures.find((p) => p.b.length > 0)!;
    const [c, G, h, A, b] = [f.c, f.G, f.h, f.A, f.b].map((v) => tensor(v));
    const value = (c: Tensor, G: Tensor, h: Tensor, A: Tensor, b: Tensor) =>
      sum(mul(c, linearProgram(c, { G, h, A, b }).params.primal));
    const g = grad(value, { argnums: [0, 1, 2, 3, 4] })(c!, G!, h!, A!, b!) as Tensor[];
    const x = tensor(f.x);
    const lam = tensor(f.lam);
    const nu = tensor(f.nu);
    const tol = { rtol: 1e-6, atol: 1e-8 };
    assertClose(g[0]!, x, tol, "c");
    assertClose(g[1]!, outer(lam, x), tol, "G");
    assertClose(g[2]!, neg(lam), tol, "h");
    assertClose(g[3]!, outer(nu, x), tol, "A");
    assertClose(g[4]!, neg(nu), tol, "b");
    checkDerivatives((h: Tensor) => value(c!, G!, h, A!, b!).reshape([1]), [h!], { rtol: 1e-6, atol: 1e-7 });
  });

  test("at a unique nondegenerate vertex x* does not move with c, and moves with h as the active rows say", () => {
    const G = tensor([
      [1, 0],
      [0, 2],
      [3, 2],
      [-1, 0],
      [0, -1],
    ]);
    const h = tensor([4, 12, 18, 0, 0]);
    const sol = (c: Tensor, h: Tensor) => linearProgram(c, { G, h }).params.primal;
    const [jc, jh] = jacrev(sol, { argnums: [0, 1] })(tensor([-3, -5]), h) as Tensor[];
    assertClose(
      jc!,
      tensor([
        [0, 0],
        [0, 0],
      ]),
      { atol: 1e-12 },
    );
    // active rows 2x₁ = 12 and 3x₀ + 2x₁ = 18: x₁ = h₁/2, x₀ = (h₂ − h₁)/3
    assertClose(
      jh!,
      tensor([
        [0, -1 / 3, 1 / 3, 0, 0],
        [0, 0.5, 0, 0, 0],
      ]),
      { atol: 1e-12 },
    );
  });

  test("a degenerate vertex is reported; its derivative is the one-sided one of the LP without the degenerate row", () => {
    // min −x₀ − x₁ s.t. x₀ ≤ 1, x₁ ≤ 1, x₀ + x₁ ≤ 2, x ≥ 0: the vertex [1, 1] has three tight constraints
    const G = tensor([
      [1, 0],
      [0, 1],
      [1, 1],
      [-1, 0],
      [0, -1],
    ]);
    const h = tensor([1, 1, 2, 0, 0]);
    const c = tensor([-1, -1]);
    const { params, state } = linearProgram(c, { G, h });
    assertClose(params.primal, tensor([1, 1]), { atol: 1e-8 });
    assert.ok(state.degenerate.length > 0, `degenerate: ${JSON.stringify(state.degenerate)}`);
    const J = jacrev((h: Tensor) => linearProgram(c, { G, h }).params.primal)(h);
    assert.ok(J.data.every(Number.isFinite));
    // loosening the degenerate row (h₂ ↑) leaves x* = [1, 1]: the one-sided derivative there is 0
    for (const i of state.degenerate) assertClose([J.data[i]!, J.data[5 + i]!], [0, 0], { atol: 1e-9 });
  });

  test("a non-unique optimum: the analytic centre of the optimal face, and a derivative that refuses", () => {
    // min −x₀ − x₁ s.t. x₀ + x₁ ≤ 1, x ≥ 0: every point of the edge is optimal
    const G = tensor([
      [1, 1],
      [-1, 0],
      [0, -1],
    ]);
    const h = tensor([1, 0, 0]);
    const { params } = linearProgram(tensor([-1, -1]), { G, h });
    assertClose(params.primal, tensor([0.5, 0.5]), { atol: 1e-6 });
    assert.throws(
      () => grad((h: Tensor) => sum(linearProgram(tensor([-1, -1]), { G, h }).params.primal))(h),
      ImplicitDiffError,
    );
  });

  test("unbounded and infeasible LPs", () => {
    const unbounded = linearProgram(
      tensor([-1, 0]),
      { G: tensor([[0, 1]]), h: tensor([1]) },
      { throwOnFailure: false },
    );
    assert.equal(unbounded.state.status, "dualInfeasible");
    assert.throws(
      () => linearProgram(tensor([1]), { G: tensor([[1], [-1]]), h: tensor([-1, -1]) }),
      (e: unknown) => e instanceof QPError && e.status === "primalInfeasible",
    );
    assert.throws(() => linearProgram(tensor([[1]]) as Tensor), /linearProgram: c must be a vector/);
  });
});

describe("projection.polyhedron", () => {
  const G = tensor([
    [-1, 0, 0],
    [0, -1, 0],
    [0, 0, -1],
    [1, 1, 1],
  ]);
  const h = tensor([0, 0, 0, 1]);

  test("agrees with projection.simplex where the polyhedron is the simplex (with an equality)", () => {
    const x = tensor([0.6, 1.1, -0.4]);
    const A = tensor([[1, 1, 1]]);
    const viaQp = (x: Tensor) => projection.polyhedron(x, { A, b: tensor([1]), G: neg(eye(3)), h: tensor([0, 0, 0]) });
    assertClose(viaQp(x), projection.simplex(x), { atol: 1e-10 });
    assertClose(jacrev(viaQp)(x), jacrev((v: Tensor) => projection.simplex(v))(x), { atol: 1e-9 });
  });

  test("inside the polyhedron it is the identity; outside its gradients match finite differences", () => {
    const inside = tensor([0.2, 0.3, 0.1]);
    assertClose(projection.polyhedron(inside, { G, h }), inside, { atol: 1e-10 });
    assertClose(jacrev((x: Tensor) => projection.polyhedron(x, { G, h }))(inside), eye(3), { atol: 1e-9 });
    const x = tensor([0.9, 0.7, -0.3]);
    const w = tensor([1, 2, 3]);
    checkDerivatives(
      (x: Tensor, G: Tensor, h: Tensor) => matmul(w, projection.polyhedron(x, { G, h })).reshape([1]),
      [x, G, h],
      { rtol: 1e-6, atol: 1e-7 },
    );
  });

  test("an empty polyhedron and a non-vector x are errors naming the function", () => {
    assert.throws(
      () => projection.polyhedron(tensor([0]), { G: tensor([[1], [-1]]), h: tensor([-1, -1]) }),
      (e: unknown) => e instanceof QPError && e.status === "primalInfeasible",
    );
    assert.throws(() => projection.polyhedron(eye(2), { G, h }), ValueError);
  });
});

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  EqualityConstrainedQP,
  InteriorPointQP,
  QPError,
  customRoot,
  kktOptimality,
  linalg,
  grad,
  jacfwd,
  jacrev,
  hessian,
  tensor,
  eye,
  zeros,
  matmul,
  concatenate,
  sum,
  square,
  mul,
  add,
  sub,
  neg,
  split,
  Tensor,
  ValueError,
  type QPProblem,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(1010);

/** A random symmetric positive definite n×n matrix. */
function spd(n: number, shift = 1): Tensor {
  const M = randn(r, [n, n]);
  return add(matmul(M, M.T), eye(n).mul(shift));
}

/** The closed form of an equality QP: [x; ν] = K⁻¹[−c; b], K = [[Q, Aᵀ], [A, 0]], through linalg.solve. */
function closedForm(Q: Tensor, c: Tensor, A: Tensor, b: Tensor): Tensor {
  const p = A.shape[0]!;
  const Qs = mul(0.5, add(Q, Q.T));
  const K = concatenate([concatenate([Qs, A.T], 1), concatenate([A, zeros([p, p])], 1)], 0);
  return linalg.solve(K, concatenate([neg(c), b]));
}

describe("EqualityConstrainedQP", () => {
  const n = 4;
  const Q = spd(n);
  const c = randn(r, [n]);
  const A = randn(r, [2, n]);
  const b = randn(r, [2]);
  const solveEq = (Q: Tensor, c: Tensor, A: Tensor, b: Tensor) => {
    const { params } = new EqualityConstrainedQP().run(undefined, { Q, c, A, b });
    return concatenate([params.primal, params.dualEq!]);
  };

  test("solution and multipliers match the closed form", () => {
    assertClose(solveEq(Q, c, A, b), closedForm(Q, c, A, b), { rtol: 1e-10, atol: 1e-12 });
  });

  test("every Jacobian matches the closed form and finite differences", () => {
    for (let k = 0; k < 4; k++) {
      const f = (t: Tensor) => {
        const args = [Q, c, A, b];
        args[k] = t;
        return solveEq(...(args as [Tensor, Tensor, Tensor, Tensor]));
      };
      const g = (t: Tensor) => {
        const args = [Q, c, A, b];
        args[k] = t;
        return closedForm(...(args as [Tensor, Tensor, Tensor, Tensor]));
      };
      const x = [Q, c, A, b][k]!;
      assertClose(jacrev(f)(x), jacrev(g)(x), { rtol: 1e-8, atol: 1e-10 }, `jacrev arg ${k}`);
      assertClose(jacfwd(f)(x), jacrev(g)(x), { rtol: 1e-8, atol: 1e-10 }, `jacfwd arg ${k}`);
    }
    checkDerivatives(solveEq, [Q, c, A, b], { rtol: 1e-6, atol: 1e-7 });
  });

  test("Q enters through its symmetric part; its gradient is over all n² entries (hence symmetric)", () => {
    const Qn = add(
      Q,
      tensor([
        [0, 0.7, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, -0.3],
        [0, 0, 0, 0],
      ]),
    );
    const loss = (M: Tensor) =>
      sum(square(new EqualityConstrainedQP().run(undefined, { Q: M, c, A, b }).params.primal));
    const g = grad(loss)(Qn);
    assertClose(g, g.T, { rtol: 1e-10, atol: 1e-12 }, "symmetric gradient");
    const fd = numericJacobian((M) => loss(M).reshape([1]), [Qn]);
    assertClose(g.data, fd, { rtol: 1e-6, atol: 1e-8 }, "entrywise finite differences");
  });

  test("matrix-free (MINRES) with operators: same solution and gradients in the operators' params", () => {
    const loss = (Qt: Tensor, At: Tensor) => {
      const problem: QPProblem = {
        Q: linalg.LinearOperator.fromMatrix(Qt, { symmetric: true }),
        c,
        A: linalg.LinearOperator.fromMatrix(At),
        b,
      };
      const { params } = new EqualityConstrainedQP().run(undefined, problem);
      return add(sum(square(params.primal)), sum(params.dualEq!));
    };
    const dense = (Qt: Tensor, At: Tensor) => {
      const z = closedForm(Qt, c, At, b);
      const [x, nu] = split(z, [n]);
      return add(sum(square(x!)), sum(nu!));
    };
    assertClose(loss(Q, A), dense(Q, A), { rtol: 1e-9 });
    const [gQ, gA] = grad(loss, { argnums: [0, 1] })(Q, A) as Tensor[];
    const [eQ, eA] = grad(dense, { argnums: [0, 1] })(Q, A) as Tensor[];
    // an operator tagged symmetric is used as given: its gradient agrees with the dense one on symmetric directions
    assertClose(mul(0.5, add(gQ!, gQ!.T)), eQ!, { rtol: 1e-7, atol: 1e-9 });
    assertClose(gA!, eA!, { rtol: 1e-7, atol: 1e-9 });
  });

  test("rejects inequalities and unrolling, with the solver named", () => {
    assert.throws(
      () => new EqualityConstrainedQP().run(undefined, { Q, c, G: A, h: b }),
      (e: unknown) => e instanceof ValueError && /EqualityConstrainedQP.*InteriorPointQP/.test((e as Error).message),
    );
    assert.throws(() => new EqualityConstrainedQP({ implicitDiff: false } as never), ValueError);
    assert.throws(() => new EqualityConstrainedQP().run(undefined, { Q, c, A } as never), /A and problem.b/);
  });
});

describe("InteriorPointQP", () => {
  test("equality QPs: agrees with the closed form", () => {
    const Q = spd(5);
    const c = randn(r, [5]);
    const A = randn(r, [2, 5]);
    const b = randn(r, [2]);
    const { params, state } = new InteriorPointQP().run(undefined, { Q, c, A, b });
    assert.equal(state.status, "converged");
    assertClose(concatenate([params.primal, params.dualEq!]), closedForm(Q, c, A, b), { rtol: 1e-9, atol: 1e-10 });
  });

  // min ½xᵀQx + cᵀx s.t. Ax = b, g·x ≤ h with the inequality active at the solution
  const n = 4;
  const Q = spd(n);
  const c = tensor([1, -2, 0.5, 1.5]);
  const A = tensor([[1, 1, 1, 1]]);
  const b = tensor([1]);
  const G = tensor([[1, -1, 0.5, 0]]);
  // h below g·x at the equality-constrained minimiser, so the inequality is active
  const h = sub(matmul(G, split(closedForm(Q, c, A, b), [n])[0]!), 0.5);
  const w = tensor([1, 2, 3, 4]);
  // not constant on {Ax = b}: a quadratic and a non-uniform linear term
  const loss = (x: Tensor) => add(sum(mul(w, square(x))), sum(mul(tensor([0.3, -1, 2, 0.1]), x)));
  const solve = (c: Tensor, h: Tensor, G: Tensor, b: Tensor, A: Tensor, Q: Tensor) =>
    new InteriorPointQP().run(undefined, { Q, c, A, b, G, h });

  test("one active inequality: multiplier positive, slack zero, KKT holds", () => {
    const { params, state } = solve(c, h, G, b, A, Q);
    assert.equal(state.status, "converged");
    assert.ok(params.dualIneq!.item() > 1e-3, `λ = ${params.dualIneq!.item()}`);
    assertClose(matmul(G, params.primal), h, { atol: 1e-9 });
    assert.deepEqual([...state.active], [1]);
    assert.deepEqual(state.degenerate, []);
  });

  test("one active inequality: gradients in c, h, G, b, A, Q against finite differences of re-solved problems", () => {
    const f = (c: Tensor, h: Tensor, G: Tensor, b: Tensor, A: Tensor, Q: Tensor) =>
      loss(solve(c, h, G, b, A, Q).params.primal).reshape([1]);
    checkDerivatives(f, [c, h, G, b, A, Q], { rtol: 1e-6, atol: 1e-7 });
  });

  test("the derivative of the multipliers, and agreement with kktOptimality through customRoot", () => {
    const F = kktOptimality(
      (z: Tensor, th: { Q: Tensor; c: Tensor }) => add(mul(0.5, sum(mul(z, matmul(th.Q, z)))), sum(mul(th.c, z))),
      {
        eq: (z: Tensor, th: { A: Tensor; b: Tensor }) => sub(matmul(th.A, z), th.b),
        ineq: (z: Tensor, th: { G: Tensor; h: Tensor }) => sub(matmul(th.G, z), th.h),
      },
    );
    const viaKkt = customRoot(F, { solve: "lu" })((
      _x0: unknown,
      thF: { Q: Tensor; c: Tensor },
      thH: { A: Tensor; b: Tensor },
      thG: { G: Tensor; h: Tensor },
    ) => {
      const { params } = new InteriorPointQP().run(undefined, { ...thF, ...thH, ...thG });
      return { z: params.primal, nu: params.dualEq, lam: params.dualIneq };
    });
    const ours = (h: Tensor) => {
      const { params } = solve(c, h, G, b, A, Q);
      return concatenate([params.primal, params.dualEq!, params.dualIneq!]);
    };
    const theirs = (h: Tensor) => {
      const s = viaKkt(undefined, { Q, c }, { A, b }, { G, h });
      return concatenate([s.z as Tensor, s.nu as Tensor, s.lam as Tensor]);
    };
    assertClose(jacfwd(ours)(h), jacrev(theirs)(h), { rtol: 1e-7, atol: 1e-9 });
  });

  test("second derivatives: the Hessian of the loss in c against finite differences of its gradient", () => {
    const f = (c: Tensor) => loss(solve(c, h, G, b, A, Q).params.primal);
    const H = hessian(f)(c);
    const fd = numericJacobian((c: Tensor) => grad(f)(c), [c], 0, 1e-5);
    assertClose(H.data, fd, { rtol: 1e-5, atol: 1e-6 });
  });

  test("box constraints: Jacobians in c and in the bounds are 0/1 diagonal patterns", () => {
    // min ½‖x‖² + cᵀx s.t. l ≤ x ≤ u: x* = clip(−c, l, u)
    const m = 5;
    const cc = tensor([2, -3, 0.2, -0.4, 5]); // −c = [−2, 3, −0.2, 0.4, −5]
    const u = tensor([1, 1, 1, 1, 1]);
    const l = tensor([-1, -1, -1, -1, 10]).sub(tensor([0, 0, 0, 0, 11])); // l = −1 everywhere
    const box = (c: Tensor, u: Tensor, l: Tensor) =>
      new InteriorPointQP().run(undefined, {
        Q: eye(m),
        c,
        G: concatenate([eye(m), neg(eye(m))], 0),
        h: concatenate([u, neg(l)]),
      }).params.primal;
    assertClose(box(cc, u, l), tensor([-1, 1, -0.2, 0.4, -1]), { atol: 1e-9 });
    const free = [0, 0, 1, 1, 0];
    const upper = [0, 1, 0, 0, 0];
    const lower = [1, 0, 0, 0, 1];
    const diag = (d: number[]) => tensor(d.map((v, i) => d.map((_, j) => (i === j ? v : 0))));
    const [jc, ju, jl] = jacrev(box, { argnums: [0, 1, 2] })(cc, u, l) as Tensor[];
    assertClose(jc!, diag(free.map((v) => -v)), { atol: 1e-9 });
    assertClose(ju!, diag(upper), { atol: 1e-9 });
    assertClose(jl!, diag(lower), { atol: 1e-9 });
  });

  test("a degenerate constraint (λ = 0 on an active bound) is reported and gets the documented one-sided derivative", () => {
    // min ½‖x‖² + cᵀx s.t. x ≤ 1 with c₀ = −1: x₀* = 1 exactly, λ₀ = 0
    const c = tensor([-1, 0.5]);
    const run = (c: Tensor) => new InteriorPointQP().run(undefined, { Q: eye(2), c, G: eye(2), h: tensor([1, 1]) });
    const { params, state } = run(c);
    assert.deepEqual(state.degenerate, [0]);
    assertClose(params.primal, tensor([1, -0.5]), { atol: 1e-9 });
    const J = jacrev((c: Tensor) => run(c).params.primal)(c);
    // treated as inactive: the derivative of the unconstrained problem, the one-sided derivative for c₀ ↑
    assertClose(
      J,
      tensor([
        [-1, 0],
        [0, -1],
      ]),
      { atol: 1e-9 },
    );
    // the one-sided slopes of x₀*(c₀) = min(−c₀, 1): −1 for c₀ ↑ (loosening), 0 for c₀ ↓
    const eps = 1e-2;
    const at = (c0: number) => run(tensor([c0, 0.5])).params.primal.data[0]!;
    assertClose((at(-1 + eps) - at(-1)) / eps, -1, { rtol: 1e-3 });
    assertClose((at(-1 - eps) - at(-1)) / eps, 0, { atol: 1e-3 });
  });

  test("infeasible problem → primalInfeasible (a QPError naming the status, or the status)", () => {
    const problem = { Q: tensor([[1]]), c: tensor([0]), G: tensor([[1], [-1]]), h: tensor([-1, -1]) };
    assert.throws(
      () => new InteriorPointQP().run(undefined, problem),
      (e: unknown) => e instanceof QPError && e.status === "primalInfeasible" && /primalInfeasible/.test(e.message),
    );
    const { state } = new InteriorPointQP({ throwOnFailure: false }).run(undefined, problem);
    assert.equal(state.status, "primalInfeasible");
  });

  test("unbounded problem → dualInfeasible", () => {
    // min ½x₀² − x₁ s.t. x₁ ≥ 0: unbounded along x₁
    const problem = {
      Q: tensor([
        [1, 0],
        [0, 0],
      ]),
      c: tensor([0, -1]),
      G: tensor([[0, -1]]),
      h: tensor([0]),
    };
    const { state } = new InteriorPointQP({ throwOnFailure: false }).run(undefined, problem);
    assert.equal(state.status, "dualInfeasible");
    assert.throws(
      () => new InteriorPointQP().run(undefined, problem),
      (e: unknown) => (e as QPError).status === "dualInfeasible",
    );
  });

  test("nearly degenerate Q = 1e-4·I: solution and gradients", () => {
    const m = 3;
    const c = tensor([1e-5, -2e-4, 0.5]);
    const f = (c: Tensor, h: Tensor) =>
      new InteriorPointQP().run(undefined, { Q: eye(m).mul(1e-4), c, G: concatenate([eye(m), neg(eye(m))], 0), h })
        .params.primal;
    const h = tensor([1, 1, 1, 1, 1, 1]);
    assertClose(f(c, h), tensor([-0.1, 1, -1]), { rtol: 1e-7, atol: 1e-9 });
    const [jc] = jacrev(f, { argnums: [0] })(c, h) as Tensor[];
    assertClose(
      jc!,
      tensor([
        [-1e4, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
      ]),
      { rtol: 1e-7, atol: 1e-6 },
    );
    checkDerivatives((c: Tensor) => sum(mul(f(c, h), tensor([1, 2, 3]))).reshape([1]), [c], { eps: 1e-9, rtol: 1e-5 });
  });

  test("parameters shared across a loop of problems get the sum of per-problem gradients", () => {
    const Q = spd(3);
    const G = randn(r, [2, 3]);
    const hs = [tensor([0.1, 0.2]), tensor([-0.5, 0.3]), tensor([1, 1])];
    const one = (c: Tensor, h: Tensor) =>
      sum(square(new InteriorPointQP().run(undefined, { Q, c, G, h }).params.primal));
    const c = tensor([1, -1, 0.5]);
    const total = grad((c: Tensor) => hs.map((h) => one(c, h)).reduce((a, v) => add(a, v)))(c);
    const parts = hs.map((h) => grad((c: Tensor) => one(c, h))(c)).reduce((a, v) => add(a, v));
    assertClose(total, parts, { rtol: 1e-12, atol: 1e-14 });
  });

  test("warm start and step-by-step use", () => {
    const Q = spd(3);
    const problem = { Q, c: tensor([1, -1, 0.5]), G: eye(3), h: tensor([0.1, 0.1, 0.1]) };
    const solver = new InteriorPointQP();
    const cold = solver.run(undefined, problem);
    let params = solver.initParams(undefined, problem);
    let state = solver.init(params, problem);
    for (let k = 0; k < cold.state.iterNum; k++) ({ params, state } = solver.update(params, state, problem));
    assertClose(params.primal, cold.params.primal, { rtol: 1e-12, atol: 1e-14 });
    const warm = solver.run(cold.params, problem);
    assertClose(warm.params.primal, cold.params.primal, { atol: 1e-8 });
  });
});

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  OSQP,
  BoxOSQP,
  InteriorPointQP,
  EqualityConstrainedQP,
  QPError,
  linalg,
  grad,
  jacrev,
  tensor,
  eye,
  matmul,
  concatenate,
  sum,
  square,
  mul,
  add,
  sub,
  neg,
  Tensor,
  ValueError,
  type QPProblem,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const r = rng(2020);

function spd(n: number, shift = 0.5): Tensor {
  const M = randn(r, [n, n]);
  return add(matmul(M, M.T), eye(n).mul(shift));
}

/**
 * A random feasible QP: constraints around a random, strictly feasible point x₀ (Slater's condition, so that
 * generically the solution is nondegenerate and its multipliers unique).
 */
function randomProblem(n: number, p: number, m: number): QPProblem {
  const x0 = randn(r, [n]);
  const problem: QPProblem = { Q: spd(n), c: randn(r, [n]) };
  if (p > 0) {
    const A = randn(r, [p, n]);
    Object.assign(problem, { A, b: matmul(A, x0) });
  }
  if (m > 0) {
    const G = randn(r, [m, n]);
    const slack = tensor(Array.from({ length: m }, () => r.uniform(0.05, 1)));
    Object.assign(problem, { G, h: add(matmul(G, x0), slack) });
  }
  return problem;
}

/** The same problem in box form: [b; −∞] ≤ [A; G]x ≤ [b; h]. */
function toBox(pr: QPProblem) {
  const rows: Tensor[] = [];
  const l: number[] = [];
  const u: number[] = [];
  if (pr.A) {
    rows.push(pr.A as Tensor);
    l.push(...pr.b!.data);
    u.push(...pr.b!.data);
  }
  if (pr.G) {
    rows.push(pr.G as Tensor);
    l.push(...pr.h!.data.map(() => -Infinity));
    u.push(...pr.h!.data);
  }
  return { Q: pr.Q, c: pr.c, A: concatenate(rows, 0), l: tensor(l), u: tensor(u) };
}

describe("agreement of the QP solvers", () => {
  test("InteriorPointQP, OSQP, BoxOSQP (and EqualityConstrainedQP without inequalities) on 50 random problems", () => {
    let activeCount = 0;
    for (let k = 0; k < 50; k++) {
      const n = 2 + (k % 5);
      const p = k % 3 === 0 ? 0 : 1 + (k % 2);
      const m = k % 5 === 4 ? 0 : 1 + (k % 6);
      const problem = randomProblem(n, Math.min(p, n - 1), m);
      const ipm = new InteriorPointQP().run(undefined, problem).params;
      const admm = new OSQP().run(undefined, problem).params;
      const msg = `problem ${k} (n ${n}, p ${p}, m ${m})`;
      activeCount += ipm.dualIneq?.data.filter((v) => v > 1e-6).length ?? 0;
      assertClose(admm.primal, ipm.primal, { rtol: 1e-6, atol: 1e-7 }, `${msg} OSQP primal`);
      if (ipm.dualEq) assertClose(admm.dualEq!, ipm.dualEq, { rtol: 1e-6, atol: 1e-7 }, `${msg} OSQP dualEq`);
      if (ipm.dualIneq) assertClose(admm.dualIneq!, ipm.dualIneq, { rtol: 1e-6, atol: 1e-7 }, `${msg} OSQP dualIneq`);
      if (problem.A || problem.G) {
        const box = new BoxOSQP().run(undefined, toBox(problem)).params;
        assertClose(box.primal, ipm.primal, { rtol: 1e-6, atol: 1e-7 }, `${msg} BoxOSQP primal`);
        const joint = concatenate([ipm.dualEq ?? tensor([]), ipm.dualIneq ?? tensor([])]);
        assertClose(box.dual, joint, { rtol: 1e-6, atol: 1e-7 }, `${msg} BoxOSQP dual`);
      }
      if (!problem.G) {
        const eq = new EqualityConstrainedQP().run(undefined, problem).params;
        assertClose(eq.primal, ipm.primal, { rtol: 1e-8, atol: 1e-9 }, `${msg} EqualityConstrainedQP`);
      }
    }
    assert.ok(activeCount >= 25, `only ${activeCount} active inequalities: the check would be weak`);
  });
});

describe("OSQP", () => {
  const problem = randomProblem(4, 1, 3);
  const w = tensor([1, -2, 3, 0.5]);
  const loss = (x: Tensor) => add(sum(mul(w, x)), sum(square(x)));

  test("gradients in c, h, G, b against finite differences, equal to the interior point's", () => {
    const f = (solver: OSQP | InteriorPointQP) => (c: Tensor, h: Tensor, G: Tensor, b: Tensor) =>
      loss(solver.run(undefined, { ...problem, c, h, G, b }).params.primal).reshape([1]);
    const args: [Tensor, Tensor, Tensor, Tensor] = [problem.c, problem.h!, problem.G as Tensor, problem.b!];
    checkDerivatives(f(new OSQP()), args, { rtol: 1e-6, atol: 1e-7 });
    const g1 = jacrev(f(new OSQP()), { argnums: [0, 1, 2, 3] })(...args) as Tensor[];
    const g2 = jacrev(f(new InteriorPointQP()), { argnums: [0, 1, 2, 3] })(...args) as Tensor[];
    g1.forEach((g, i) => assertClose(g, g2[i]!, { rtol: 1e-7, atol: 1e-9 }, `arg ${i}`));
  });

  test("matrix-free with operators: polished by MINRES, the solution and the gradients in the operators' params", () => {
    const Qm = problem.Q as Tensor;
    const Gm = problem.G as Tensor;
    // h cuts off the minimiser under the equality alone by its first row: that row is active at the solution
    const xe = new InteriorPointQP().run(undefined, { ...problem, G: undefined, h: undefined }).params.primal;
    const hActive = add(matmul(Gm, xe), tensor([-0.3, 1, 1]));
    const base = { ...problem, h: hActive };
    const opsProblem = (Qt: Tensor, Gt: Tensor, c = problem.c, h = hActive): QPProblem => ({
      ...base,
      c,
      h,
      Q: linalg.LinearOperator.fromMatrix(Qt),
      G: linalg.LinearOperator.fromFunction((M: Tensor, v: Tensor) => matmul(M, v), Gt, tensor([0, 0, 0, 0]), {
        outExample: tensor([0, 0, 0]),
      }),
    });
    const { params, state } = new OSQP().run(undefined, opsProblem(Qm, Gm));
    assert.equal(state.polished, true, "operator problems are polished (matrix-free)");
    assert.ok(state.active.includes(1), "some inequalities are active");
    const exact = new InteriorPointQP().run(undefined, base).params;
    // polishing makes the default-tolerance ADMM point exact, as on dense problems
    assertClose(params.primal, exact.primal, { rtol: 1e-10, atol: 1e-10 });
    assertClose(params.dualIneq!, exact.dualIneq!, { rtol: 1e-10, atol: 1e-10 });
    const viaOps = (Qt: Tensor, Gt: Tensor) => loss(new OSQP().run(undefined, opsProblem(Qt, Gt)).params.primal);
    // the dense problem's derivative, through the reused polishing factors
    const dense = (Qt: Tensor, Gt: Tensor) => loss(new OSQP().run(undefined, { ...base, Q: Qt, G: Gt }).params.primal);
    const [gQ, gG] = grad(viaOps, { argnums: [0, 1] })(Qm, Gm) as Tensor[];
    const [eQ, eG] = grad(dense, { argnums: [0, 1] })(Qm, Gm) as Tensor[];
    assertClose(gQ!, eQ!, { rtol: 1e-9, atol: 1e-10 });
    assertClose(gG!, eG!, { rtol: 1e-9, atol: 1e-10 });
    const f = (c: Tensor, h: Tensor) => loss(new OSQP().run(undefined, opsProblem(Qm, Gm, c, h)).params.primal);
    checkDerivatives(f, [problem.c, hActive], { rtol: 1e-6, atol: 1e-7 });
  });

  test("infeasible → primalInfeasible; unbounded → dualInfeasible", () => {
    const infeasible = { Q: tensor([[1]]), c: tensor([0]), G: tensor([[1], [-1]]), h: tensor([-1, -1]) };
    assert.throws(
      () => new OSQP().run(undefined, infeasible),
      (e: unknown) => e instanceof QPError && e.status === "primalInfeasible",
    );
    const unbounded = {
      Q: tensor([
        [1, 0],
        [0, 0],
      ]),
      c: tensor([0, -1]),
      G: tensor([[0, -1]]),
      h: tensor([0]),
    };
    assert.equal(new OSQP({ throwOnFailure: false }).run(undefined, unbounded).state.status, "dualInfeasible");
    const box = {
      Q: tensor([[1]]),
      c: tensor([0]),
      A: tensor([[1], [1]]),
      l: tensor([1, -Infinity]),
      u: tensor([Infinity, -1]),
    };
    assert.equal(new BoxOSQP({ throwOnFailure: false }).run(undefined, box).state.status, "primalInfeasible");
  });

  test("maxIterReached is never silent", () => {
    const pr = randomProblem(5, 1, 4);
    assert.throws(
      () => new OSQP({ maxIter: 3 }).run(undefined, pr),
      (e: unknown) => e instanceof QPError && e.status === "maxIterReached",
    );
    const { state } = new OSQP({ maxIter: 3, throwOnFailure: false }).run(undefined, pr);
    assert.equal(state.status, "maxIterReached");
  });

  test("option checks name the solver and the option", () => {
    assert.throws(
      () => new OSQP({ alpha: 2 }),
      (e: unknown) => e instanceof ValueError && /OSQP: alpha/.test(String(e)),
    );
    assert.throws(() => new BoxOSQP({ rho: -1 }), /BoxOSQP: rho/);
    const bad = { Q: eye(1), c: tensor([0]), A: eye(1), l: tensor([1]), u: tensor([0]) };
    assert.throws(() => new BoxOSQP().run(undefined, bad), /BoxOSQP: problem.l\[0\] = 1 exceeds/);
  });
});

describe("BoxOSQP", () => {
  test("Jacobians in c, l and u are 0/1 diagonal patterns; equality rows follow their bound", () => {
    // min ½‖x‖² + cᵀx s.t. l ≤ x ≤ u: x* = clip(−c, l, u); row 3 is an equality (l = u = 0.3)
    const c = tensor([2, -3, 0.2, 5]);
    const l = tensor([-1, -1, -1, 0.3]);
    const u = tensor([1, 1, 1, 0.3]);
    const solve = (c: Tensor, l: Tensor, u: Tensor) =>
      new BoxOSQP().run(undefined, { Q: eye(4), c, A: eye(4), l, u }).params.primal;
    assertClose(solve(c, l, u), tensor([-1, 1, -0.2, 0.3]), { atol: 1e-9 });
    const [jc, jl, ju] = jacrev(solve, { argnums: [0, 1, 2] })(c, l, u) as Tensor[];
    const diag = (d: number[]) => tensor(d.map((v, i) => d.map((_, j) => (i === j ? v : 0))));
    assertClose(jc!, diag([0, 0, -1, 0]), { atol: 1e-9 });
    // row 3: y = −c₃ − x₃ < 0, so the equality is held by its lower bound
    assertClose(jl!, diag([1, 0, 0, 1]), { atol: 1e-9 });
    assertClose(ju!, diag([0, 1, 0, 0]), { atol: 1e-9 });
  });
});

describe("OptNet's check: a QP layer with learned Q and c fitted by gradient descent", () => {
  test("reproduces the target solutions of a hidden QP layer", () => {
    // layer: x(z) = argmin ½xᵀQx + (c + z)ᵀx s.t. Gx ≤ h, with Q = LLᵀ + 0.1·I
    const n = 3;
    const G = concatenate([eye(n), neg(eye(n))], 0);
    const h = tensor([1, 1, 1, 1, 1, 1]);
    const layer = (L: Tensor, c: Tensor, z: Tensor) =>
      new InteriorPointQP().run(undefined, { Q: add(matmul(L, L.T), eye(n).mul(0.1)), c: add(c, z), G, h }).params
        .primal;
    const Ltrue = tensor([
      [1, 0, 0],
      [0.5, 1.2, 0],
      [-0.3, 0.2, 0.8],
    ]);
    const ctrue = tensor([0.3, -0.5, 0.2]);
    const zs = [tensor([0.1, 0.2, -0.3]), tensor([-1, 0.5, 0]), tensor([0.4, -0.2, 1.5]), tensor([0, 0, 0])];
    const targets = zs.map((z) => layer(Ltrue, ctrue, z));
    const loss = (L: Tensor, c: Tensor) =>
      zs.map((z, k) => sum(square(sub(layer(L, c, z), targets[k]!)))).reduce((a, v) => add(a, v));
    let L = eye(n);
    let c = tensor([0, 0, 0]);
    const initial = loss(L, c).item();
    for (let step = 0; step < 80; step++) {
      const [gL, gc] = grad(loss, { argnums: [0, 1] })(L, c) as Tensor[];
      L = sub(L, mul(0.05, gL!));
      c = sub(c, mul(0.05, gc!));
    }
    const final = loss(L, c).item();
    assert.ok(final < 1e-3 * initial, `loss ${initial} → ${final}`);
  });
});

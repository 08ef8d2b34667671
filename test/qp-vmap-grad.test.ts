/**
 * The QP layers and `projection.polyhedron` under every nesting of `vmap` with derivative transforms, on batches
 * whose elements have different active sets: each element's derivative must be that of the unbatched call (a
 * JavaScript loop), which finite differences confirm.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BoxOSQP,
  EqualityConstrainedQP,
  ImplicitDiffError,
  InteriorPointQP,
  OSQP,
  QPError,
  add,
  concatenate,
  customRoot,
  div,
  diag,
  eye,
  grad,
  hessian,
  jacfwd,
  jacrev,
  jvp,
  linalg,
  linearProgram,
  mul,
  projection,
  random,
  reshape,
  slice,
  stopGradient,
  sub,
  stack,
  sum,
  tensor,
  vdot,
  vmap,
  type BackwardFactor,
  type ImplicitDiagnostics,
  type Tensor,
} from "../src/index.js";
import { assertClose, numericJacobian } from "./helpers.js";

const rows = (t: Tensor) => Array.from({ length: t.shape[0]! }, (_, b) => slice(t, b));
const part = (t: Tensor, start: number, stop: number) => slice(t, [start, stop]);

/** One batched layer: `sol(θ)` a vector of the solution's parts, `active(θ)` its active set (read unbatched). */
interface Case {
  sol: (theta: Tensor) => Tensor;
  active: (theta: Tensor) => string;
  /** The batch: one θ per row, with pairwise different active sets. */
  thetas: Tensor;
}

/** A fixed weighting of the solution, so that the loss involves every part of it (primal and multipliers). */
function lossOf(c: Case): (theta: Tensor) => Tensor {
  return (theta) => {
    const s = c.sol(theta);
    const w = tensor(Array.from({ length: s.size }, (_, i) => 1 + 0.37 * i - 0.05 * i * i));
    return add(vdot(w, s), mul(0.1, vdot(s, s)));
  };
}

/**
 * Every nesting against the loop of unbatched calls: vmap(grad), grad(vmap), vmap(jacrev), vmap(jacfwd), vmap(jvp),
 * jacrev(vmap) (block diagonal); the loop's gradients against central finite differences.
 */
function checkCase(c: Case, tol = { rtol: 1e-8, atol: 1e-9 }, fd = { rtol: 1e-5, atol: 1e-6 }) {
  const thetas = rows(c.thetas);
  const B = thetas.length;
  const actives = thetas.map(c.active);
  assert.equal(new Set(actives).size, B, `the elements' active sets must differ: ${actives.join(" | ")}`);
  const loss = lossOf(c);
  const gLoop = stack(thetas.map((t) => grad(loss)(t)));
  thetas.forEach((t, b) =>
    assertClose(
      grad(loss)(t).data,
      numericJacobian(loss, [t], 0, 1e-6),
      fd,
      `element ${b}: grad vs finite differences`,
    ),
  );
  assertClose(vmap(grad(loss))(c.thetas), gLoop, tol, "vmap(grad)");
  assertClose(grad((T: Tensor) => sum(vmap(loss)(T)))(c.thetas), gLoop, tol, "grad(vmap)");
  const jLoop = stack(thetas.map((t) => jacrev(c.sol)(t)));
  assertClose(stack(thetas.map((t) => jacfwd(c.sol)(t))), jLoop, tol, "loop jacfwd vs jacrev");
  assertClose(vmap(jacrev(c.sol))(c.thetas), jLoop, tol, "vmap(jacrev)");
  assertClose(vmap(jacfwd(c.sol))(c.thetas), jLoop, tol, "vmap(jacfwd)");
  const V = random.normal(random.key(5), c.thetas.shape);
  const tangents = vmap((t: Tensor, v: Tensor) => jvp(c.sol, [t], [v])[1] as Tensor)(c.thetas, V);
  const tLoop = stack(thetas.map((t, b) => jvp(c.sol, [t], [rows(V)[b]!])[1] as Tensor));
  assertClose(tangents, tLoop, tol, "vmap(jvp)");
  // jacrev(vmap(sol)): [B, m, B, k], element b's Jacobian on the diagonal, zero elsewhere
  const J = jacrev(vmap(c.sol))(c.thetas);
  const [, m, , k] = J.shape as [number, number, number, number];
  const Jd = J.data;
  for (let b = 0; b < B; b++) {
    for (let b2 = 0; b2 < B; b2++) {
      const block = new Float64Array(m * k);
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) block[i * k + j] = Jd[((b * m + i) * B + b2) * k + j]!;
      if (b === b2) assertClose(block, rows(jLoop)[b]!.data, tol, `jacrev(vmap) block ${b}`);
      else assertClose(block, new Float64Array(m * k), { atol: 0 }, `jacrev(vmap) block ${b}, ${b2}`);
    }
  }
}

// A standard-form QP in 3 unknowns: Q ≻ 0, the box x ≤ 1 (rows 0–2), x₀ + x₁ + x₂ ≤ 1.5 (row 3), x₀ − x₂ = b.
const Q0 = tensor([
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
const h0 = tensor([1, 1, 1, 1.5]);
const A = tensor([[1, 0, -1]]);
const c0 = tensor([-4, -4, 0.1]);

type Standard = InteriorPointQP | OSQP;
const flat = (s: { primal: Tensor; dualEq?: Tensor; dualIneq?: Tensor }) =>
  concatenate([s.primal, ...(s.dualEq ? [s.dualEq] : []), ...(s.dualIneq ? [s.dualIneq] : [])]);
const activeString = (a: Float64Array) => Array.from(a).join("");

/** The standard-form cases over `solver`: θ is c; h; a diagonal shift of Q; (c, h, b) at once. */
function standardCases(solver: Standard): Record<string, Case> {
  const run = (Q: Tensor, c: Tensor, h: Tensor, b?: Tensor) =>
    solver.run(undefined, { Q, c, G, h, ...(b ? { A, b } : {}) });
  const make = (build: (t: Tensor) => Parameters<typeof run>, thetas: number[][]): Case => ({
    sol: (t) => flat(run(...build(t)).params),
    active: (t) => activeString(run(...build(t)).state.active),
    thetas: tensor(thetas),
  });
  return {
    "c only": make(
      (c) => [Q0, c, h0],
      [
        [0.1, 0.2, -0.3], // interior
        [-4, 0.3, 0.2], // x₀ ≤ 1
        [-4, -4, 0.1], // x₀, x₁ ≤ 1 and the sum: a vertex of the box face
      ],
    ),
    "h only": make(
      (h) => [Q0, c0, h],
      [
        [5, 5, 5, 20], // interior
        [1, 5, 5, 20], // x₀ ≤ 1
        [5, 5, 5, 1.5], // the sum
      ],
    ),
    Q: make(
      (d) => [add(Q0, diag(d)), c0, h0],
      [
        [3, 3, 0], // interior
        [0, 3, 0], // x₀ ≤ 1
        [3, 0, 0], // x₁ ≤ 1
      ],
    ),
    "c, h and b at once": make(
      (t) => [Q0, part(t, 0, 3), part(t, 3, 7), part(t, 7, 8)],
      [
        [0.1, 0.2, -0.3, 5, 5, 5, 20, 0.1],
        [-4, 0.3, 0.2, 1, 5, 5, 20, 0.2],
        [-4, -4, 0.1, 5, 5, 5, 1.5, -0.1],
      ],
    ),
  };
}

describe("QP layers under vmap of derivatives: each element on its own active set", () => {
  for (const [name, make] of [
    ["InteriorPointQP", () => new InteriorPointQP()],
    ["OSQP", () => new OSQP({ tol: 1e-9 })],
  ] as const) {
    for (const [field, c] of Object.entries(standardCases(make()))) {
      test(`${name}, batched over ${field}`, () => checkCase(c));
    }
  }

  test("the backward pass reuses each element's own polishing factorisation", () => {
    const seen: ImplicitDiagnostics[] = [];
    const solver = new InteriorPointQP({ implicit: { onDiagnostics: (d) => seen.push(d) } });
    const c = standardCases(solver)["c only"]!;
    const g = vmap(grad(lossOf(c)))(c.thetas);
    assert.equal(seen.length, 3);
    assert.deepEqual(
      seen.map((d) => d.linearSolve.solver),
      ["kkt-lu", "kkt-lu", "kkt-lu"],
    );
    seen.forEach((d) => assert.ok(d.linearSolve.residualNorm < 1e-12));
    assertClose(g, stack(rows(c.thetas).map((t) => grad(lossOf(c))(t))), { rtol: 1e-12, atol: 1e-14 });
  });

  test("OSQP with a matrix-free Q batched through its operator's params", () => {
    const solver = new OSQP({ tol: 1e-9 });
    const run = (s: Tensor) =>
      solver.run(undefined, { Q: linalg.LinearOperator.fromMatrix(mul(Q0, s), { symmetric: true }), c: c0, G, h: h0 });
    checkCase({
      sol: (s) => flat(run(s).params),
      active: (s) => activeString(run(s).state.active),
      thetas: tensor([[0.3], [1], [5]]),
    });
  });

  test("EqualityConstrainedQP, batched over c, b and Q together (per-element KKT factors)", () => {
    const seen: string[] = [];
    const solver = new EqualityConstrainedQP({ implicit: { onDiagnostics: (d) => seen.push(d.linearSolve.solver) } });
    const A2 = tensor([
      [1, 0, -1],
      [1, 1, 1],
    ]);
    const sol = (t: Tensor) =>
      flat(
        solver.run(undefined, { Q: add(Q0, diag(part(t, 0, 3))), c: part(t, 3, 6), A: A2, b: part(t, 6, 8) }).params,
      );
    const c: Case = {
      sol,
      // no inequalities: the elements differ by their data only
      active: (t) => Array.from(t.data).join(","),
      thetas: tensor([
        [0, 0, 0, 1, 2, 3, 0.5, 1],
        [1, 0, 2, -1, 0, 1, -0.5, 2],
        [0.5, 3, 0, 0, 0, 0, 1, -1],
      ]),
    };
    checkCase(c);
    seen.length = 0;
    vmap(grad(lossOf(c)))(c.thetas);
    assert.deepEqual(seen, ["kkt-lu", "kkt-lu", "kkt-lu"]);
  });

  test("BoxOSQP: elements at the upper bound, the lower bound and inside, over c and over (l, u)", () => {
    for (const c of Object.values(boxCases())) checkCase(c);
  });

  test("linearProgram: elements at different vertices, over c and over h", () => {
    const Glp = tensor([
      [1, 1],
      [1, 0],
      [-1, 0],
      [0, -1],
      [1, 2],
    ]);
    const hlp = tensor([4, 3, 0, 0, 6]);
    const run = (c: Tensor, h: Tensor) => linearProgram(c, { G: Glp, h });
    const cs = [
      [-1, -3], // x₀ + 2x₁ ≤ 6 and x₀ ≥ 0: [0, 3]
      [-2, -1], // x₀ ≤ 3 and x₀ + x₁ ≤ 4: [3, 1]
      [-1, -1.5], // x₀ + x₁ ≤ 4 and x₀ + 2x₁ ≤ 6: [2, 2]
    ];
    checkCase({
      sol: (h) => flat(run(tensor([-1, -1.5]), h).params),
      active: (h) => activeString(run(tensor([-1, -1.5]), h).state.active),
      thetas: tensor([
        [4, 3, 0, 0, 6],
        [4, 1, 0, 0, 6],
        [2.5, 3, 0, 0, 6],
      ]),
    });
    checkCase({
      sol: (c) => flat(run(c, hlp).params),
      active: (c) => activeString(run(c, hlp).state.active),
      thetas: tensor(cs),
    });
  });

  test("projection.polyhedron: points projected onto different faces, over x and over h", () => {
    for (const c of Object.values(polyhedronCases())) checkCase(c);
  });

  for (const [name, solver] of [
    ["InteriorPointQP", new InteriorPointQP()],
    ["OSQP", new OSQP({ tol: 1e-9 })],
  ] as const) {
    test(`${name}: batched warm starts, alone (a shared problem) and with the problem`, () => {
      const inits = random.normal(random.key(9), [3, 3]);
      const cs = standardCases(solver)["c only"]!.thetas;
      const loss = (c: Tensor, x0: Tensor) => {
        const s = solver.run({ primal: x0 }, { Q: Q0, c, G, h: h0 }).params;
        return add(vdot(tensor([1, -2, 0.5]), s.primal), vdot(tensor([0.3, 0.1, -0.2, 0.4]), s.dualIneq!));
      };
      const loop = (c: Tensor[]) => stack(c.map((ci, b) => grad(loss)(ci, rows(inits)[b]!)));
      const shared = rows(cs)[2]!;
      const tol = { rtol: 1e-8, atol: 1e-9 };
      const alone = vmap(grad(loss), { inAxes: [null, 0] })(shared, inits);
      assertClose(alone, loop([shared, shared, shared]), tol, "warm start batched alone");
      assertClose(vmap(grad(loss))(cs, inits), loop(rows(cs)), tol, "both batched");
    });
  }

  test("nested vmaps: vmap(vmap(grad(f))) over a 2×2 batch, each element with its own factors", () => {
    const seen: string[] = [];
    const solver = new InteriorPointQP({ implicit: { onDiagnostics: (d) => seen.push(d.linearSolve.solver) } });
    const f = (c: Tensor) => vdot(tensor([1, 2, 3]), solver.run(undefined, { Q: Q0, c, G, h: h0 }).params.primal);
    const C = reshape(concatenate([standardCases(solver)["c only"]!.thetas, tensor([[1, -4, 0.3]])]), [2, 2, 3]);
    const nested = vmap(vmap(grad(f)))(C);
    assert.deepEqual(seen, ["kkt-lu", "kkt-lu", "kkt-lu", "kkt-lu"]);
    const loop = stack(rows(C).map((r) => stack(rows(r).map((c) => grad(f)(c)))));
    assertClose(nested, loop, { rtol: 1e-12, atol: 1e-14 });
  });

  const secondOrder: [string, Case][] = [
    ["InteriorPointQP over Q", standardCases(new InteriorPointQP()).Q!],
    ["OSQP over c, h and b", standardCases(new OSQP({ tol: 1e-9 }))["c, h and b at once"]!],
    ["BoxOSQP over c", boxCases().c!],
    ["projection.polyhedron over x", polyhedronCases().x!],
  ];
  for (const [name, c] of secondOrder) {
    test(`second order, ${name}: vmap(hessian) and Hessian–vector products of every element match the loop of Hessians`, () => {
      const loss = lossOf(c);
      const H = stack(rows(c.thetas).map((t) => hessian(loss)(t)));
      rows(c.thetas).forEach((t, b) =>
        assertClose(
          rows(H)[b]!.data,
          numericJacobian((s: Tensor) => grad(loss)(s), [t], 0, 1e-5),
          { rtol: 1e-5, atol: 1e-6 },
          `element ${b}: Hessian vs finite differences`,
        ),
      );
      // one column of every element's Hessian per call
      const [B, k] = c.thetas.shape as [number, number];
      for (let j = 0; j < k; j++) {
        const e = tensor(Array.from({ length: B }, () => Array.from({ length: k }, (_, i) => (i === j ? 1 : 0))));
        const col = jvp(vmap(grad(loss)), [c.thetas], [e])[1] as Tensor;
        assertClose(col, stack(rows(H).map((Hb) => slice(Hb, null, j))), { rtol: 1e-8, atol: 1e-9 }, `column ${j}`);
      }
      // inside vmap: every element's Hessian, each solve on the element's own values
      assertClose(vmap(hessian(loss))(c.thetas) as Tensor, H, { rtol: 1e-8, atol: 1e-9 }, "vmap(hessian)");
    });
  }
});

describe("customRoot under vmap of a Jacobian: one backward factorisation per element", () => {
  test("vmap(jacrev(layer)): backwardFactor is asked once per element, not once per row and element", () => {
    // x*(θ) = θ ⊙ s for the root of F(x, θ) = x / s − θ (M = diag(1/s), "factorised" as s)
    const s = tensor([1, 2, 3, 4]);
    const F = (x: Tensor, theta: Tensor) => sub(div(x, s), theta);
    let asked = 0;
    const layer = customRoot(F, {
      backwardFactor: (): BackwardFactor => {
        asked++;
        return { name: "diagonal", solve: (r) => mul(r as Tensor, s) };
      },
    })((_x0: unknown, theta: Tensor) => mul(stopGradient(theta), s));
    const thetas = random.normal(random.key(3), [3, 4]);
    const J = vmap(jacrev((t: Tensor) => layer(undefined, t)))(thetas);
    assert.equal(asked, 3);
    assertClose(J, stack([diag(s), diag(s), diag(s)]), { rtol: 1e-14, atol: 0 });
  });
});

describe("QP layers under vmap of derivatives: failures name the batch element", () => {
  // min −x₀ − x₁ s.t. x₀ + x₁ ≤ h₀, x ≥ 0: a whole optimal edge when the cost is parallel to it
  const Glp = tensor([
    [1, 1],
    [-1, 0],
    [0, -1],
  ]);
  const hlp = tensor([1, 0, 0]);
  const cs = tensor([
    [-1, -2],
    [-1, -1], // element 1: a non-unique optimum, no derivative
    [-2, -1],
  ]);
  const value = (c: Tensor) => sum(linearProgram(c, { G: Glp, h: hlp }).params.primal);

  for (const [name, run] of [
    ["vmap(grad)", () => vmap(grad(value))(cs)],
    ["grad(vmap)", () => grad((c: Tensor) => sum(vmap(value)(c)))(cs)],
    ["jacrev(vmap)", () => jacrev(vmap(value))(cs)],
    ["vmap(jacfwd)", () => vmap(jacfwd(value))(cs)],
  ] as const) {
    test(`a degenerate element under ${name}: ImplicitDiffError naming element 1`, () => {
      assert.throws(run, (e: Error) => e instanceof ImplicitDiffError && /vmap batch element 1 of 3/.test(e.message));
    });
  }

  test("an infeasible element under vmap(grad): QPError naming it, or its own status", () => {
    const hs = tensor([
      [1, 1, 1, 1.5],
      [1, 1, 1, 1.5],
      [-1, -1, -1, 1.5], // element 2: x ≤ −1, but x₀ + x₁ + x₂ ≥ 0 (the last row): infeasible
    ]);
    const G2 = concatenate([G, tensor([[-1, -1, -1]])]);
    const h2 = concatenate([hs, tensor([[0], [0], [0]])], 1);
    const f = (h: Tensor) => sum(new InteriorPointQP().run(undefined, { Q: Q0, c: c0, G: G2, h }).params.primal);
    assert.throws(
      () => vmap(grad(f))(h2),
      (e: Error) => e instanceof QPError && e.status === "primalInfeasible" && /batch element 2 of 3/.test(e.message),
    );
  });
});

/** BoxOSQP cases: θ is c, or the bounds (l₀..₂, u₀..₃). */
function boxCases(): Record<string, Case> {
  const solver = new BoxOSQP({ tol: 1e-9 });
  const Abox = concatenate([eye(3), tensor([[1, 1, 1]])]);
  const run = (c: Tensor, l: Tensor, u: Tensor) => solver.run(undefined, { Q: Q0, c, A: Abox, l, u });
  const l0 = tensor([-1, -1, -1, -Infinity]);
  const u0 = tensor([1, 1, 1, 1.5]);
  const box = (s: { primal: Tensor; dual: Tensor }) => concatenate([s.primal, s.dual]);
  const bounds = (t: Tensor) => [concatenate([part(t, 0, 3), tensor([-Infinity])]), part(t, 3, 7)] as const;
  return {
    c: {
      sol: (c) => box(run(c, l0, u0).params),
      active: (c) => activeString(run(c, l0, u0).state.active),
      thetas: tensor([
        [0.1, 0.2, -0.3], // inside
        [-4, 0.3, 0.2], // x₀ at its upper bound
        [4, 0.3, -5], // x₀ at its lower bound, x₂ at its upper one
      ]),
    },
    bounds: {
      sol: (t) => box(run(c0, ...bounds(t)).params),
      active: (t) => activeString(run(c0, ...bounds(t)).state.active),
      thetas: tensor([
        [-5, -5, -5, 5, 5, 5, 20],
        [-5, -5, -5, 1, 5, 5, 20],
        [-5, -5, 0.5, 5, 5, 5, 1.5],
      ]),
    },
  };
}

/** projection.polyhedron onto the triangle {y ≥ 0, y₀ + y₁ ≤ h₂}: θ is the point x, or h. */
function polyhedronCases(): Record<string, Case> {
  const Gp = tensor([
    [-1, 0],
    [0, -1],
    [1, 1],
  ]);
  const hp = tensor([0, 0, 1]);
  const faceOf = (y: Tensor, h: Tensor) =>
    Array.from(Gp.matmul(y).data, (v, i) => (Math.abs(v - h.data[i]!) < 1e-8 ? 1 : 0)).join("");
  const x = tensor([1, 0.5]);
  return {
    x: {
      sol: (x) => projection.polyhedron(x, { G: Gp, h: hp }),
      active: (x) => faceOf(projection.polyhedron(x, { G: Gp, h: hp }), hp),
      thetas: tensor([
        [0.2, 0.3], // inside
        [1, 0.5], // the edge y₀ + y₁ = 1
        [-1, 0.5], // the edge y₀ = 0
      ]),
    },
    h: {
      sol: (h) => projection.polyhedron(x, { G: Gp, h }),
      active: (h) => faceOf(projection.polyhedron(x, { G: Gp, h }), h),
      thetas: tensor([
        [0, 0, 3], // inside
        [0, 0, 1], // the edge y₀ + y₁ = 1
        [-1.5, 0, 3], // the edge y₀ = 1.5
      ]),
    },
  };
}

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  add,
  sub,
  mul,
  div,
  cos,
  sin,
  tanh,
  sum,
  square,
  matmul,
  eye,
  grad,
  jvp,
  vjp,
  jacfwd,
  jacrev,
  hessian,
  customRoot,
  customFixedPoint,
  rootJvp,
  rootVjp,
  stationarity,
  kktOptimality,
  ImplicitDiffError,
  DifferentiationError,
  type ImplicitDiagnostics,
} from "../src/index.js";
import { assertClose, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(2024);

/** Dense solve of a small SPD system by Gaussian elimination on plain numbers (test oracle). */
function denseSolve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(M[i]![k]!) > Math.abs(M[p]![k]!)) p = i;
    [M[k], M[p]] = [M[p]!, M[k]!];
    for (let i = k + 1; i < n; i++) {
      const f = M[i]![k]! / M[k]![k]!;
      for (let j = k; j <= n; j++) M[i]![j]! -= f * M[k]![j]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = M[i]![n]!;
    for (let j = i + 1; j < n; j++) s -= M[i]![j]! * x[j]!;
    x[i] = s / M[i]![i]!;
  }
  return x;
}

/** A plain ridge solver (never traced): (XᵀX + λI) w = Xᵀy. */
function ridgeSolver(_init: Tensor, lam: Tensor, X: Tensor, y: Tensor): Tensor {
  assert.equal(lam.level + X.level + y.level, 0, "the solver must receive plain values");
  const [n, d] = X.shape as [number, number];
  const A: number[][] = [];
  const b: number[] = [];
  for (let i = 0; i < d; i++) {
    A.push([]);
    let s = 0;
    for (let k = 0; k < n; k++) s += X.data[k * d + i]! * y.data[k]!;
    b.push(s);
    for (let j = 0; j < d; j++) {
      let t = 0;
      for (let k = 0; k < n; k++) t += X.data[k * d + i]! * X.data[k * d + j]!;
      A[i]!.push(t + (i === j ? lam.item() : 0));
    }
  }
  return tensor(denseSolve(A, b));
}

const ridgeObjective = (w: Tensor, lam: Tensor, X: Tensor, y: Tensor) =>
  add(mul(0.5, sum(square(sub(matmul(X, w), y)))), mul(mul(0.5, lam), sum(square(w))));

describe("ridge regression: closed forms", () => {
  const n = 15;
  const d = 4;
  const X = randn(r, [n, d]);
  const y = randn(r, [n]);
  const lam = tensor(0.7);
  const ridge = customRoot(stationarity(ridgeObjective), { positiveDefinite: true })(ridgeSolver);
  const H = add(matmul(X.T, X), mul(lam, eye(d)));
  const Hinv = (v: Tensor) => tensor(denseSolve(H.toArray() as number[][], [...v.data]));
  const w = ridge(tensor([0, 0, 0, 0]), lam, X, y) as Tensor;

  test("dx*/dλ = −H⁻¹x* in forward and reverse mode", () => {
    const expected = mul(-1, Hinv(w));
    assertClose(jvp((l: Tensor) => ridge(undefined, l, X, y), [lam], [tensor(1)])[1], expected, { rtol: 1e-9 });
    assertClose(jacrev((l: Tensor) => ridge(undefined, l, X, y))(lam) as Tensor, expected, { rtol: 1e-9 });
    assertClose(jacfwd((l: Tensor) => ridge(undefined, l, X, y))(lam) as Tensor, expected, { rtol: 1e-9 });
  });
  test("d²x*/dλ² = 2H⁻²x* (second derivatives are implicit too)", () => {
    const expected = mul(2, Hinv(Hinv(w)));
    const d2fwd = jacfwd(jacfwd((l: Tensor) => ridge(undefined, l, X, y)))(lam) as Tensor;
    const d2rev = jacrev(jacrev((l: Tensor) => ridge(undefined, l, X, y)))(lam) as Tensor;
    const d2mix = jacfwd(jacrev((l: Tensor) => ridge(undefined, l, X, y)))(lam) as Tensor;
    assertClose(d2fwd, expected, { rtol: 1e-8 });
    assertClose(d2rev, expected, { rtol: 1e-8 });
    assertClose(d2mix, expected, { rtol: 1e-8 });
  });
  test("Jacobian w.r.t. the targets is H⁻¹Xᵀ", () => {
    const J = jacrev((yy: Tensor) => ridge(undefined, lam, X, yy))(y) as Tensor;
    const Jf = jacfwd((yy: Tensor) => ridge(undefined, lam, X, yy))(y) as Tensor;
    const expected: number[][] = [];
    for (let k = 0; k < n; k++)
      expected.push([...Hinv(tensor(Float64Array.from({ length: d }, (_, i) => X.data[k * d + i]!))).data]);
    // expected[k] is column k of H⁻¹Xᵀ
    const E = new Float64Array(d * n);
    for (let i = 0; i < d; i++) for (let k = 0; k < n; k++) E[i * n + k] = expected[k]![i]!;
    assertClose(J.data, E, { rtol: 1e-9, atol: 1e-12 });
    assertClose(Jf, J, { rtol: 1e-9, atol: 1e-12 });
  });
  test("hessian of an outer loss through the argmin matches finite differences", () => {
    const Xv = randn(r, [6, d]);
    const yv = randn(r, [6]);
    const outer = (l: Tensor) => mul(0.5, sum(square(sub(matmul(Xv, ridge(undefined, l, X, y) as Tensor), yv))));
    const g = grad(outer);
    const fdHess = numericJacobian((l: Tensor) => g(l) as Tensor, [lam], 0, 1e-5);
    assertClose((hessian(outer)(lam) as Tensor).data, fdHess, { rtol: 1e-6, atol: 1e-9 });
    assertClose((g(lam) as Tensor).data, numericJacobian(outer, [lam], 0, 1e-6), { rtol: 1e-6, atol: 1e-10 });
  });
});

describe("fixed points and roots", () => {
  test("customFixedPoint(x − η∇f) equals customRoot(∇f) for several η", () => {
    const A = add(matmul(randn(r, [5, 5]), randn(r, [5, 5]).T), mul(5, eye(5)));
    const Q = add(matmul(A.T, A), eye(5));
    const f = (x: Tensor, b: Tensor) => sub(mul(0.5, sum(mul(x, matmul(Q, x)))), sum(mul(b, x)));
    const b = randn(r, [5]);
    const exact = (_x0: Tensor, bb: Tensor) => tensor(denseSolve(Q.toArray() as number[][], [...bb.data]));
    const viaRoot = jacrev((bb: Tensor) => customRoot(stationarity(f))(exact)(undefined, bb))(b) as Tensor;
    for (const eta of [0.001, 0.01, 0.05]) {
      const T = (x: Tensor, bb: Tensor) => sub(x, mul(eta, grad(f)(x, bb) as Tensor));
      const viaFp = jacrev((bb: Tensor) => customFixedPoint(T)(exact)(undefined, bb))(b) as Tensor;
      assertClose(viaFp, viaRoot, { rtol: 1e-8, atol: 1e-12 }, `eta ${eta}`);
    }
  });
  test("a scalar cubic root: x³ + x − a = 0", () => {
    const F = (x: Tensor, a: Tensor) => sub(add(mul(x, mul(x, x)), x), a);
    const newton = (x0: Tensor, a: Tensor) => {
      let x = x0.item();
      for (let i = 0; i < 60; i++) x -= (x * x * x + x - a.item()) / (3 * x * x + 1);
      return tensor(x);
    };
    const root = customRoot(F)(newton);
    const a = tensor(3.5);
    const x = (root(tensor(1), a) as Tensor).item();
    const dxda = 1 / (3 * x * x + 1);
    const d2 = -6 * x * dxda ** 3;
    assertClose(jvp((aa: Tensor) => root(tensor(1), aa), [a], [tensor(1)])[1], dxda, { rtol: 1e-12 });
    const [, pb] = vjp((aa: Tensor) => root(tensor(1), aa), a);
    assertClose(pb(tensor(1))[0] as Tensor, dxda, { rtol: 1e-12 });
    assertClose(
      jacfwd((aa: Tensor) => root(tensor(1), aa))(a) as Tensor,
      jacrev((aa: Tensor) => root(tensor(1), aa))(a) as Tensor,
      { rtol: 1e-14 },
    );
    assertClose(grad(grad((aa: Tensor) => root(tensor(1), aa)))(a) as Tensor, d2, { rtol: 1e-9 });
  });
  test("the fixed point x = cos(x) + θ", () => {
    const T = (x: Tensor, th: Tensor) => add(cos(x), th);
    const solve = customFixedPoint(T)((x0: Tensor, th: Tensor) => {
      let x = x0.item();
      for (let i = 0; i < 500; i++) x = Math.cos(x) + th.item();
      return tensor(x);
    });
    const th = tensor(0.5);
    const x = (solve(tensor(0), th) as Tensor).item();
    assertClose(grad((t: Tensor) => solve(tensor(0), t))(th) as Tensor, 1 / (1 + Math.sin(x)), { rtol: 1e-10 });
    // second derivative: x' = 1/(1+sin x), x'' = −cos(x) x' / (1 + sin x)²
    const x1 = 1 / (1 + Math.sin(x));
    assertClose(
      grad(grad((t: Tensor) => solve(tensor(0), t)))(th) as Tensor,
      (-Math.cos(x) * x1) / (1 + Math.sin(x)) ** 2,
      {
        rtol: 1e-9,
      },
    );
  });
  test("a deep-equilibrium layer z = tanh(Wz + Ux): implicit gradient equals 500 unrolled iterations", () => {
    const d = 6;
    const W = mul(0.3, div(randn(r, [d, d]), Math.sqrt(d)));
    const U = randn(r, [d, 3]);
    const xin = randn(r, [3]);
    const T = (z: Tensor, w: Tensor, u: Tensor) => tanh(add(matmul(w, z), matmul(u, xin)));
    const unrolled = (w: Tensor, u: Tensor) => {
      let z = tensor(new Float64Array(d));
      for (let i = 0; i < 500; i++) z = T(z, w, u);
      return z;
    };
    const deq = customFixedPoint(T)((z0: Tensor, w: Tensor, u: Tensor) => {
      let z = z0;
      for (let i = 0; i < 500; i++) z = T(z, w, u);
      return z;
    });
    const loss = (z: Tensor) => sum(mul(z, tensor([1, -2, 3, 0.5, -1, 2])));
    const [gwImp, guImp] = grad((w: Tensor, u: Tensor) => loss(deq(tensor(new Float64Array(d)), w, u) as Tensor), {
      argnums: [0, 1],
    })(W, U) as Tensor[];
    const [gwUn, guUn] = grad((w: Tensor, u: Tensor) => loss(unrolled(w, u)), { argnums: [0, 1] })(W, U) as Tensor[];
    assertClose(gwImp!, gwUn!, { rtol: 1e-6, atol: 1e-12 });
    assertClose(guImp!, guUn!, { rtol: 1e-6, atol: 1e-12 });
  });
  test("adjoint identity ⟨u, J v⟩ = ⟨Jᵀu, v⟩ through rootJvp / rootVjp", () => {
    const F = (x: Tensor, a: Tensor, b: Tensor) => sub(add(mul(x, mul(x, x)), mul(a, x)), b);
    const a = tensor([2, 3, 4]);
    const b = tensor([1, -1, 0.5]);
    // solve x³ + a x = b elementwise
    const xs = tensor(
      [...a.data].map((ai, i) => {
        let x = 0;
        for (let k = 0; k < 80; k++) x -= (x * x * x + ai * x - b.data[i]!) / (3 * x * x + ai);
        return x;
      }),
    );
    const va = randn(r, [3]);
    const vb = randn(r, [3]);
    const u = randn(r, [3]);
    const Jv = rootJvp(F, xs, [a, b], [va, vb]) as Tensor;
    const [ga, gb] = rootVjp(F, xs, [a, b], u) as Tensor[];
    const lhs = sum(mul(u, Jv)).item();
    const rhs = sum(mul(ga!, va)).item() + sum(mul(gb!, vb)).item();
    assertClose(lhs, rhs, { rtol: 1e-12 });
  });
});

describe("tracing, closures and memory", () => {
  test("the solver never receives traced values (it throws if it does)", () => {
    const F = (x: Tensor, a: Tensor) => sub(mul(x, x), a);
    const strict = (x0: Tensor, a: Tensor) => {
      if (x0.level > 0 || a.level > 0) throw new Error("solver was traced");
      return tensor(Math.sqrt(a.item()));
    };
    const f = customRoot(F)(strict);
    assertClose(grad((a: Tensor) => f(tensor(1), a))(tensor(4)) as Tensor, 0.25);
    assertClose(grad(grad((a: Tensor) => f(tensor(1), a)))(tensor(4)) as Tensor, -0.25 * Math.pow(4, -1.5), {
      rtol: 1e-12,
    });
    assertClose(jacfwd((a: Tensor) => f(tensor(1), a))(tensor(4)) as Tensor, 0.25);
    // init gets no derivative
    assertClose(grad((x0: Tensor) => f(x0, tensor(4)))(tensor(1)) as Tensor, 0);
  });
  test("an optimality function closing over a differentiated value is rejected", () => {
    const solver = (_x0: Tensor, a: Tensor) => tensor(Math.sqrt(a.item()));
    assert.throws(
      () =>
        grad((c: Tensor) => {
          const F = (x: Tensor, a: Tensor) => sub(mul(mul(x, x), c), a);
          return customRoot(F)(solver)(tensor(1), tensor(4)) as Tensor;
        })(tensor(1)),
      DifferentiationError,
    );
  });
  test("a solver closing over a differentiated value is rejected", () => {
    const F = (x: Tensor, a: Tensor) => sub(mul(x, x), a);
    assert.throws(
      () =>
        grad(
          (c: Tensor) =>
            customRoot(F)((_x0: Tensor, a: Tensor) => mul(c, Math.sqrt(a.item())))(tensor(1), tensor(4)) as Tensor,
        )(tensor(1)),
      DifferentiationError,
    );
  });
  test("memory held by a backward pass does not depend on the solver's iteration count", () => {
    const gc = (globalThis as { gc?: () => void }).gc!;
    const d = 200;
    const T = (x: Tensor, th: Tensor) => add(mul(0.5, sin(x)), th);
    const held = (iters: number): number => {
      const solve = customFixedPoint(T)((x0: Tensor, th: Tensor) => {
        let x = x0;
        for (let i = 0; i < iters; i++) x = T(x, th);
        return x;
      });
      gc();
      const before = process.memoryUsage().heapUsed;
      const [, pb] = vjp((th: Tensor) => solve(tensor(new Float64Array(d)), th), randn(r, [d]));
      gc();
      const after = process.memoryUsage().heapUsed;
      assert.ok(pb);
      return after - before;
    };
    held(10);
    const small = held(10);
    const large = held(10000);
    // 10^4 unrolled iterations of 200-element tensors would hold > 30 MB
    assert.ok(
      large - small < 1e6,
      `backward pass holds ${(small / 1e3).toFixed(0)} kB vs ${(large / 1e3).toFixed(0)} kB`,
    );
  });
});

describe("certified derivatives", () => {
  const F = (x: Tensor, a: Tensor) => sub(mul(x, x), a);
  test("diagnostics are reported for every derivative", () => {
    const seen: ImplicitDiagnostics[] = [];
    const f = customRoot(F, { onDiagnostics: (d) => seen.push(d) })((_x0: Tensor, a: Tensor) =>
      tensor(Math.sqrt(a.item())),
    );
    grad((a: Tensor) => f(tensor(1), a))(tensor(4));
    jvp((a: Tensor) => f(tensor(1), a), [tensor(4)], [tensor(1)]);
    assert.deepEqual(
      seen.map((d) => d.mode),
      ["vjp", "jvp"],
    );
    for (const d of seen) {
      assert.ok(d.forwardResidual < 1e-12);
      assert.ok(d.linearSolve.converged);
      assert.ok(d.linearSolve.residualNorm < 1e-10);
      assert.equal(d.fallback, false);
    }
  });
  test("a solver that did not converge makes the derivative throw (policy throw)", () => {
    const f = customRoot(F)((_x0: Tensor, a: Tensor) => tensor(Math.sqrt(a.item()) + 0.1));
    assert.throws(() => grad((a: Tensor) => f(tensor(1), a))(tensor(4)), ImplicitDiffError);
    assert.throws(() => grad((a: Tensor) => f(tensor(1), a))(tensor(4)), /not a root/);
  });
  test("policy warn returns the derivative at the approximate point", () => {
    const f = customRoot(F, { policy: "warn" })((_x0: Tensor, _a: Tensor) => tensor(2.001));
    const warn = console.warn;
    const messages: string[] = [];
    console.warn = (m: string) => messages.push(m);
    try {
      assertClose(grad((a: Tensor) => f(tensor(1), a))(tensor(4)) as Tensor, 1 / (2 * 2.001), { rtol: 1e-12 });
    } finally {
      console.warn = warn;
    }
    assert.equal(messages.length, 1);
  });
  test("a singular backward system throws, and policy lstsq gives the least-squares derivative", () => {
    // F(x, a) = [x0 + x1 − a, x0 + x1 − a]: singular ∂ₓF; the minimum-norm solution of the backward system.
    const G = (x: Tensor, a: Tensor) => {
      const s = sub(sum(x), a);
      return add(mul(s, tensor([1, 1])), mul(0, x));
    };
    const solver = (_x0: Tensor, a: Tensor) => tensor([a.item() / 2, a.item() / 2]);
    assert.throws(
      () => jacrev((a: Tensor) => customRoot(G, { solve: "lu" })(solver)(undefined, a))(tensor(1)),
      ImplicitDiffError,
    );
    const J = jacrev((a: Tensor) => customRoot(G, { policy: "lstsq" })(solver)(undefined, a))(tensor(1)) as Tensor;
    assertClose(J, [0.5, 0.5], { rtol: 1e-9 });
    const warn = console.warn;
    const messages: string[] = [];
    console.warn = (m: string) => messages.push(m);
    try {
      const seen: ImplicitDiagnostics[] = [];
      const layer = customRoot(G, { policy: "warn", solve: "lu", onDiagnostics: (d) => seen.push(d) })(solver);
      assertClose(jacrev((a: Tensor) => layer(undefined, a))(tensor(1)) as Tensor, [0.5, 0.5], { rtol: 1e-9 });
      assert.equal(seen[0]!.fallback, true);
    } finally {
      console.warn = warn;
    }
    assert.match(messages[0]!, /singular/);
  });
  test("phases: the diagnostics name the tangent (jvp) and cotangent (vjp) systems, dense or iterative", () => {
    for (const solve of ["lu", "gmres"] as const) {
      const seen: ImplicitDiagnostics[] = [];
      const f = customRoot(F, { solve, onDiagnostics: (d) => seen.push(d) })((_x0: Tensor, a: Tensor) =>
        tensor(Math.sqrt(a.item())),
      );
      grad((a: Tensor) => f(tensor(1), a))(tensor(4));
      jvp((a: Tensor) => f(tensor(1), a), [tensor(4)], [tensor(1)]);
      assert.deepEqual(
        seen.map((d) => [d.mode, d.linearSolve.phase, d.linearSolve.solver]),
        [
          ["vjp", "cotangent", solve],
          ["jvp", "tangent", solve],
        ],
      );
    }
  });
  describe("wrong structure hints throw instead of giving a wrong derivative", () => {
    // F(x, θ) = A x − θ with A nonsymmetric but positive definite in the sense vᵀAv > 0.
    const A = tensor([
      [3, 1, 0],
      [-1, 3, 2],
      [0, 0, 4],
    ]);
    const G = (x: Tensor, theta: Tensor) => sub(matmul(A, x), theta);
    const exact = (theta: Tensor) => tensor(denseSolve(A.toArray() as number[][], theta.toArray() as number[]));
    const loss = (layer: (init: Tensor | undefined, theta: Tensor) => Tensor) => (theta: Tensor) =>
      sum(mul(tensor([1, 2, 3]), layer(undefined, theta)));
    const theta = tensor([1, -2, 0.5]);
    for (const [hint, solve] of [
      ["symmetric", "auto"],
      ["symmetric", "minres"],
      ["positiveDefinite", "auto"],
      ["positiveDefinite", "cg"],
    ] as const) {
      test(`${hint} with solve ${solve}`, () => {
        const layer = customRoot(G, { [hint]: true, solve })((_x0: Tensor | undefined, t: Tensor) => exact(t)) as (
          init: Tensor | undefined,
          theta: Tensor,
        ) => Tensor;
        assert.throws(
          () => grad(loss(layer))(theta),
          (e: unknown) => {
            assert.ok(e instanceof ImplicitDiffError);
            assert.match(e.message, new RegExp(`\`${hint}\` hint is wrong`));
            return true;
          },
        );
        assert.throws(() => jvp(loss(layer), [theta], [tensor([1, 0, 0])]), ImplicitDiffError);
      });
    }
    test("an indefinite symmetric operator with the positiveDefinite hint", () => {
      // Eigenvalues 3 and −1: random probes may miss the negative direction; Cholesky and CG then catch it.
      const S = tensor([
        [1, 2],
        [2, 1],
      ]);
      const H = (x: Tensor, t: Tensor) => sub(matmul(S, x), t);
      const solver = (_x0: Tensor | undefined, t: Tensor) =>
        tensor(denseSolve(S.toArray() as number[][], t.toArray() as number[]));
      const g = (solve: "auto" | "cg") => {
        const layer = customRoot(H, { positiveDefinite: true, solve })(solver);
        return grad((t: Tensor) => sum(mul(tensor([1, 2]), layer(undefined, t) as Tensor)))(tensor([1, 1])) as Tensor;
      };
      assert.throws(() => g("auto"), ImplicitDiffError); // Cholesky meets a negative pivot
      assert.throws(() => g("cg"), /not positive definite/); // CG meets negative curvature
    });
    test("without the hint the same layer is differentiated correctly", () => {
      const layer = customRoot(G)((_x0: Tensor | undefined, t: Tensor) => exact(t)) as (
        init: Tensor | undefined,
        theta: Tensor,
      ) => Tensor;
      // ∇θ cᵀA⁻¹θ = A⁻ᵀc
      const AT = (A.toArray() as number[][])[0]!.map((_, j) => (A.toArray() as number[][]).map((row) => row[j]!));
      assertClose(grad(loss(layer))(theta) as Tensor, denseSolve(AT, [1, 2, 3]), { rtol: 1e-12 });
    });
  });
  test("hasAux passes aux through without derivative", () => {
    const f = customRoot(F, { hasAux: true })((_x0: Tensor, a: Tensor) => [
      tensor(Math.sqrt(a.item())),
      { iterations: tensor(3) },
    ]);
    const [x, aux] = f(tensor(1), tensor(9)) as [Tensor, { iterations: Tensor }];
    assertClose(x, 3);
    assertClose(aux.iterations, 3);
    assertClose(grad((a: Tensor) => (f(tensor(1), a) as [Tensor, unknown])[0])(tensor(9)) as Tensor, 1 / 6);
  });
});

describe("KKT conditions", () => {
  test("equality-constrained projection: min ½‖z − θ‖² s.t. Σz = 1", () => {
    const F = kktOptimality((z: Tensor, th: Tensor) => mul(0.5, sum(square(sub(z, th)))), {
      eq: (z: Tensor) => sub(sum(z), 1).reshape([1]),
    });
    const solve = customRoot(F, { solve: "lu" })((_x0: unknown, th: Tensor) => {
      const nu = (sum(th).item() - 1) / th.size;
      return { z: sub(th, nu), nu: tensor([nu]) };
    });
    const th = tensor([0.3, 1.2, -0.4]);
    const J = jacrev((t: Tensor) => (solve(undefined, t) as { z: Tensor }).z)(th) as Tensor;
    // z* = θ − (Σθ − 1)/n ⇒ J = I − 11ᵀ/n
    const n = 3;
    const E = Float64Array.from({ length: 9 }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0) - 1 / n);
    assertClose(J.data, E, { rtol: 1e-10, atol: 1e-12 });
  });
  test("inequality-constrained: min ½‖z − θ‖² s.t. z ≤ 1 with one active constraint", () => {
    const F = kktOptimality((z: Tensor, th: Tensor) => mul(0.5, sum(square(sub(z, th)))), {
      ineq: (z: Tensor) => sub(z, 1),
    });
    const solve = customRoot(F, { solve: "lu" })((_x0: unknown, th: Tensor) => {
      const z = th.data.map((v) => Math.min(v, 1));
      const lam = th.data.map((v) => Math.max(v - 1, 0));
      return { z: tensor(z), lam: tensor(lam) };
    });
    const th = tensor([0.5, 2.0]);
    const J = jacfwd((t: Tensor) => (solve(undefined, t) as { z: Tensor }).z)(th) as Tensor;
    assertClose(J, [1, 0, 0, 0], { atol: 1e-12 });
  });
});

describe("full Jacobians", () => {
  test("jacrev and jacfwd of a dense implicit layer run the solver once and factorise once", async () => {
    const { factorizationCount } = await import("../src/linalg/dense/factored.js");
    const d = 6;
    const M = randn(r, [d, d]);
    const Q = add(matmul(M, M.T), mul(d, eye(d)));
    const f = (x: Tensor, b: Tensor) => sub(mul(0.5, sum(mul(x, matmul(Q, x)))), sum(mul(b, x)));
    let solverCalls = 0;
    const layer = customRoot(stationarity(f), { solve: "lu" })((_x0: unknown, b: Tensor) => {
      solverCalls++;
      return tensor(denseSolve(Q.toArray() as number[][], [...b.data]));
    });
    const b = randn(r, [d]);
    // J = Q⁻¹ (columns: Q⁻¹ eⱼ)
    const expected = new Float64Array(d * d);
    for (let j = 0; j < d; j++) {
      const e = new Array<number>(d).fill(0);
      e[j] = 1;
      denseSolve(Q.toArray() as number[][], e).forEach((v, i) => (expected[i * d + j] = v));
    }
    for (const jac of [jacrev, jacfwd]) {
      solverCalls = 0;
      const before = factorizationCount();
      const J = jac((bb: Tensor) => layer(undefined, bb))(b) as Tensor;
      assertClose(J.data, expected, { rtol: 1e-9, atol: 1e-12 });
      assert.ok(solverCalls <= 1, `${jac.name}: solver ran ${solverCalls} times`);
      assert.ok(factorizationCount() - before <= 1, `${jac.name}: ${factorizationCount() - before} factorisations`);
    }
  });
});

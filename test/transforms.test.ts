import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  add,
  mul,
  sub,
  div,
  exp,
  sin,
  cos,
  log,
  tanh,
  sum,
  square,
  matmul,
  sigmoid,
  grad,
  valueAndGrad,
  jvp,
  vjp,
  jacfwd,
  jacrev,
  hessian,
  hvp,
  linearize,
  stopGradient,
  NonScalarOutputError,
  TreeMismatchError,
  ValueError,
  ShapeError,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

const r = rng(42);

describe("perturbation confusion", () => {
  // d/dx [x · d/dy (x + y)] = 1 at every nesting of jvp and vjp.
  const inner = (x: Tensor) => (y: Tensor) => add(x, y);
  test("grad of grad", () => {
    const d = grad((x: Tensor) => mul(x, grad(inner(x))(tensor(2))))(tensor(1));
    assert.equal(d.item(), 1);
  });
  test("jvp of jvp", () => {
    const f = (x: Tensor) => mul(x, jvp(inner(x), [tensor(2)], [tensor(1)])[1]);
    assert.equal(jvp(f, [tensor(1)], [tensor(1)])[1].item(), 1);
  });
  test("jvp of vjp and vjp of jvp", () => {
    const fr = (x: Tensor) => {
      const [, pb] = vjp(inner(x), tensor(2));
      return mul(x, pb(tensor(1))[0] as Tensor);
    };
    assert.equal(jvp(fr, [tensor(1)], [tensor(1)])[1].item(), 1);
    const ff = (x: Tensor) => mul(x, jvp(inner(x), [tensor(2)], [tensor(1)])[1]);
    assert.equal(grad(ff)(tensor(1)).item(), 1);
  });
  test("a nested derivative that depends on the outer variable", () => {
    // d/dx [ d/dy (x·y²) at y=x ] = d/dx [2x·x] = 4x
    const f = (x: Tensor) => grad((y: Tensor) => mul(x, square(y)))(x);
    assertClose(grad(f)(tensor(3)), 12);
    assertClose(jvp(f, [tensor(3)], [tensor(1)])[1], 12);
  });
});

describe("transforms", () => {
  const f = (x: Tensor) => sum(mul(sin(x), exp(mul(x, 0.3))));
  test("grad matches finite differences and jvp", () => {
    const x = randn(r, [5]);
    const g = grad(f)(x) as Tensor;
    assertClose(g.data, numericJacobian(f, [x]), { rtol: 1e-7, atol: 1e-8 });
    const v = randn(r, [5]);
    const [, dy] = jvp(f, [x], [v]);
    let gv = 0;
    for (let i = 0; i < 5; i++) gv += g.data[i]! * v.data[i]!;
    assertClose(dy, gv, { rtol: 1e-12 });
  });
  test("jacfwd equals jacrev on a composite function", () => {
    const A = randn(r, [4, 3]);
    const h = (x: Tensor) => tanh(add(matmul(A, x), mul(x.sum(), 0.5)));
    const x = randn(r, [3]);
    assertClose(jacfwd(h)(x) as Tensor, jacrev(h)(x) as Tensor, { rtol: 1e-12, atol: 1e-14 });
    checkDerivatives(h, [x]);
  });
  test("hessian is symmetric and equals the logistic-loss closed form", () => {
    const n = 20;
    const d = 4;
    const X = randn(r, [n, d]);
    const y = tensor(Float64Array.from({ length: n }, () => (r.uniform() > 0.5 ? 1 : 0)));
    const loss = (w: Tensor) => {
      const z = matmul(X, w);
      // mean of log(1 + e^z) - y z
      return div(sum(sub(log(add(exp(z), 1)), mul(y, z))), n);
    };
    const w = randn(r, [d]);
    const H = hessian(loss)(w) as Tensor;
    const s = sigmoid(matmul(X, w)).data;
    const expected = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      const c = (s[i]! * (1 - s[i]!)) / n;
      for (let a = 0; a < d; a++)
        for (let b = 0; b < d; b++) expected[a * d + b] += c * X.data[i * d + a]! * X.data[i * d + b]!;
    }
    assertClose(H.data, expected, { rtol: 1e-10, atol: 1e-14 });
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++) assertClose(H.data[a * d + b]!, H.data[b * d + a]!, { rtol: 1e-12 });
    const v = randn(r, [d]);
    const Hv = hvp(loss, [w], [v])[0] as Tensor;
    assertClose(Hv, matmul(H, v), { rtol: 1e-10, atol: 1e-14 });
  });
  test("third derivative by triple nesting", () => {
    // f = sin(x): f''' = -cos(x)
    const d3 = grad(grad(grad((x: Tensor) => sin(x))))(tensor(0.7)) as Tensor;
    assertClose(d3, -Math.cos(0.7), { rtol: 1e-12 });
    const d3f = jvp((x: Tensor) => grad(grad((z: Tensor) => sin(z)))(x), [tensor(0.7)], [tensor(1)])[1];
    assertClose(d3f, -Math.cos(0.7), { rtol: 1e-12 });
  });
  test("pytrees: grad with argnums, objects and arrays", () => {
    const loss = (p: { w: Tensor; b: Tensor }, xs: Tensor[]) => sum(square(add(mul(p.w, xs[0]!), add(p.b, xs[1]!))));
    const p = { w: tensor([1, 2]), b: tensor(0.5) };
    const xs = [tensor([3, 4]), tensor([1, -1])];
    const [gp, gx] = grad(loss, { argnums: [0, 1] })(p, xs) as [{ w: Tensor; b: Tensor }, Tensor[]];
    // residual r = w*x0 + b + x1 = [4.5, 7.5]
    assertClose(gp.w, [2 * 4.5 * 3, 2 * 7.5 * 4]);
    assertClose(gp.b, 2 * (4.5 + 7.5));
    assertClose(gx[0]!, [2 * 4.5 * 1, 2 * 7.5 * 2]);
    assertClose(gx[1]!, [2 * 4.5, 2 * 7.5]);
  });
  test("valueAndGrad and hasAux", () => {
    const [[v, aux], g] = valueAndGrad((x: Tensor) => [sum(square(x)), { double: mul(x, 2) }], { hasAux: true })(
      tensor([1, 2]),
    ) as [[Tensor, { double: Tensor }], Tensor];
    assertClose(v, 5);
    assertClose(aux.double, [2, 4]);
    assertClose(g, [2, 4]);
    assert.equal(aux.double.level, 0, "aux is not traced");
  });
  test("linearize gives the jvp at the point", () => {
    const [y, df] = linearize((x: Tensor) => mul(sin(x), x), tensor(1.3));
    assertClose(y, Math.sin(1.3) * 1.3);
    assertClose(df(tensor(2)), 2 * (Math.cos(1.3) * 1.3 + Math.sin(1.3)), { rtol: 1e-12 });
  });
  test("stopGradient blocks every mode", () => {
    const f2 = (x: Tensor) => mul(x, stopGradient(x));
    assertClose(grad(f2)(tensor(3)), 3);
    assertClose(jvp(f2, [tensor(3)], [tensor(1)])[1], 3);
    assertClose(grad(grad((x: Tensor) => mul(square(x), stopGradient(x))))(tensor(2)), 4);
  });
  test("jacobian layout for matrix inputs and outputs", () => {
    const W = randn(r, [2, 3]);
    const J = jacrev((w: Tensor) => mul(w, w))(W) as Tensor;
    assert.deepEqual([...J.shape], [2, 3, 2, 3]);
    const Jf = jacfwd((w: Tensor) => mul(w, w))(W) as Tensor;
    assertClose(J, Jf, { rtol: 1e-14 });
  });
  test("functions whose output does not depend on the input have zero derivatives", () => {
    assertClose(grad((_x: Tensor) => tensor(3))(tensor([1, 2])), [0, 0]);
    assertClose(jvp((_x: Tensor) => tensor([3, 4]), [tensor(1)], [tensor(1)])[1], [0, 0]);
  });
  test("a pullback may be called many times", () => {
    const [, pb] = vjp((x: Tensor) => mul(x, x), tensor([1, 2]));
    assertClose(pb(tensor([1, 0]))[0] as Tensor, [2, 0]);
    assertClose(pb(tensor([0, 1]))[0] as Tensor, [0, 4]);
  });
  test("shared subexpressions accumulate cotangents", () => {
    const g = grad((x: Tensor) => {
      const y = exp(x);
      return sum(add(mul(y, y), cos(y)));
    })(tensor([0.1, 0.2])) as Tensor;
    const e = [0.1, 0.2].map((v) => 2 * Math.exp(2 * v) - Math.sin(Math.exp(v)) * Math.exp(v));
    assertClose(g, e, { rtol: 1e-12 });
  });
});

describe("errors", () => {
  test("grad of a non-scalar output", () => {
    assert.throws(() => grad((x: Tensor) => mul(x, 2))(tensor([1, 2])), NonScalarOutputError);
    assert.throws(() => grad((x: Tensor) => mul(x, 2))(tensor([1, 2])), /scalar.*\[2\]/);
  });
  test("tangents whose structure or shape differ from the primals", () => {
    assert.throws(() => jvp((x: Tensor) => x, [tensor([1, 2])], [tensor([1, 2, 3])]), TreeMismatchError);
    // @ts-expect-error the tangent's structure differs from the primal's (also a compile error)
    assert.throws(() => jvp((x: Tensor) => x, [tensor(1)], [[tensor(1)]]), TreeMismatchError);
    assert.throws(
      // @ts-expect-error one tangent for two primals (also a compile error)
      () => jvp((x: Tensor, y: Tensor) => add(x, y), [tensor(1), tensor(2)], [tensor(1)]),
      TreeMismatchError,
    );
  });
  test("cotangent of the wrong shape", () => {
    const [, pb] = vjp((x: Tensor) => mul(x, 2), tensor([1, 2]));
    assert.throws(() => pb(tensor([1, 2, 3])), TreeMismatchError);
  });
  test("argnums out of range", () => {
    assert.throws(() => grad((x: Tensor) => sum(x), { argnums: 2 })(tensor(1)), ValueError);
  });
  test("a value that is not a pytree is named by the transform and its path, in arguments, outputs and aux", () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => grad((s: never) => tensor(s))("abc" as never),
        /^grad: args\[0\] is the string "abc", not a tensor or a pytree/,
      ],
      [
        () =>
          grad((a: Tensor, _b: unknown) => sum(a), { argnums: [0, 1] })(tensor(1), {
            w: [tensor(1), new Float64Array(2)],
          }),
        /^grad: args\[1\]\.w\[1\] is a Float64Array, not a tensor or a pytree; wrap it with tensor\(\.\.\.\)$/,
      ],
      [() => hessian((x: Tensor) => sum(x))(new Float32Array(2) as never), /^hessian: args\[0\] is a Float32Array/],
      [() => jvp((x: Tensor) => x, [new Map() as unknown as Tensor], [tensor(1)]), /^jvp: primals\[0\] is a Map/],
      [() => vjp((x: Tensor, _b: unknown) => x, tensor(1), true), /^vjp: args\[1\] is the boolean true/],
      [() => jacrev((x: Tensor) => x)({ "my key": "s" } as never), /^jacrev: args\[0\]\["my key"\] is the string "s"/],
      [
        () => jacfwd((x: Tensor) => ({ a: x, b: "s" }))(tensor([1])),
        /^jacfwd: the output of f at \.b is the string "s"/,
      ],
      [() => grad((_x: Tensor) => "s" as never)(tensor(1)), /^grad: the output of f is the string "s"/],
      [() => linearize((_x: Tensor) => "x" as never, tensor(1)), /^linearize: the output of f is the string "x"/],
      [() => stopGradient({ a: [1, "x"] } as never), /^stopGradient: x\.a\[1\] is the string "x"/],
      [
        () => valueAndGrad((x: Tensor) => [sum(x), { n: 3, s: "hi" }] as const, { hasAux: true })(tensor([1, 2])),
        /^valueAndGrad: the aux output of f at \.s is the string "hi", not a tensor or a pytree/,
      ],
    ];
    for (const [run, message] of cases) {
      assert.throws(run, (e) => e instanceof TreeMismatchError && message.test(e.message), String(message));
    }
  });
  test("hasAux without a pair, and grad of a function returning nothing, say what f returned", () => {
    assert.throws(
      () => grad((x: Tensor) => sum(x), { hasAux: true })(tensor([1, 2])),
      (e) =>
        e instanceof ValueError &&
        e.message === "grad: with hasAux, f must return a pair [output, aux], got a tensor of shape []",
    );
    assert.throws(
      () => grad((() => undefined) as unknown as (x: Tensor) => Tensor)(tensor(1)),
      (e) => e instanceof NonScalarOutputError && /got no tensor \(output structure undefined\)/.test(e.message),
    );
    // aux keeps its structure, numbers become tensors, and it carries no derivative
    const [[value, aux], g] = valueAndGrad((x: Tensor) => [sum(square(x)), { x, n: 3 }] as const, { hasAux: true })(
      tensor([1, 2]),
    );
    assert.equal(value.item(), 5);
    assert.deepEqual([aux.x.toArray(), aux.n.item(), g.toArray()], [[1, 2], 3, [2, 4]]);
  });
  test("broadcast failures name the op and the shapes", () => {
    assert.throws(
      () => add(tensor([1, 2]), tensor([1, 2, 3])),
      (e: unknown) => {
        assert.ok(e instanceof ShapeError);
        assert.match(e.message, /add: shapes \[2\] and \[3\]/);
        return true;
      },
    );
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  add,
  mul,
  div,
  exp,
  log1p,
  sqrt,
  sin,
  cos,
  sum,
  sigmoid,
  grad,
  jvp,
  vjp,
  jacfwd,
  jacrev,
  hessian,
  customJvp,
  customVjp,
  DifferentiationError,
} from "../src/index.js";
import { assertClose } from "./helpers.js";

// softplus with a hand-written forward rule
const softplus = customJvp(
  (x: Tensor) => log1p(exp(x)),
  ([x]: Tensor[], [t]: Tensor[]) => [log1p(exp(x!)), mul(t!, sigmoid(x!))],
);

// sqrt with a hand-written reverse rule that reuses the output
const mySqrt = customVjp(
  (x: Tensor) => sqrt(x),
  (x: Tensor) => {
    const y = sqrt(x);
    return [y, y];
  },
  (y: Tensor, g: Tensor) => [div(mul(g, 0.5), y)],
);

describe("customJvp", () => {
  test("first and second derivatives in every mode", () => {
    const x = tensor([0.3, -1.2]);
    const s = x.data.map((v) => 1 / (1 + Math.exp(-v)));
    const f = (z: Tensor) => sum(softplus(z));
    assertClose(grad(f)(x), s, { rtol: 1e-12 });
    assertClose(jvp(softplus, [x], [tensor([1, 1])])[1], s, { rtol: 1e-12 });
    assertClose(jacrev(softplus)(x), jacfwd(softplus)(x), { rtol: 1e-12 });
    const H = hessian(f)(x) as Tensor;
    assertClose(H, [s[0]! * (1 - s[0]!), 0, 0, s[1]! * (1 - s[1]!)], { rtol: 1e-10, atol: 1e-15 });
  });
  test("the rule is used, not autodiff of the function", () => {
    // A function whose custom derivative is deliberately 3x the true one.
    const f = customJvp(
      (x: Tensor) => sin(x),
      ([x]: Tensor[], [t]: Tensor[]) => [sin(x!), mul(mul(t!, cos(x!)), 3)],
    );
    assertClose(grad(f)(tensor(0.5)), 3 * Math.cos(0.5), { rtol: 1e-12 });
    assertClose(jvp(f, [tensor(0.5)], [tensor(1)])[1], 3 * Math.cos(0.5), { rtol: 1e-12 });
    // nested: d/dx of the custom derivative 3cos(x) = -3 sin(x)
    assertClose(grad(grad(f))(tensor(0.5)), -3 * Math.sin(0.5), { rtol: 1e-12 });
  });
  test("a rule that is not differentiable is rejected under reverse mode", () => {
    const bad = customJvp(
      (x: Tensor) => sin(x),
      ([x]: Tensor[], [t]: Tensor[]) => [
        sin(x!),
        tensor(
          t!.data.map((v, i) => v * Math.cos(x!.data[i]!)),
          t!.shape,
        ),
      ],
    );
    assert.throws(() => grad(bad)(tensor(0.5)), DifferentiationError);
  });
});

describe("customVjp", () => {
  test("first and second derivatives in every mode", () => {
    assertClose(grad(mySqrt)(tensor(4)), 0.25, { rtol: 1e-14 });
    assertClose(grad(grad(mySqrt))(tensor(4)), -0.25 * Math.pow(4, -1.5), { rtol: 1e-12 });
    // forward mode through the transposed bwd
    assertClose(jvp(mySqrt, [tensor(4)], [tensor(2)])[1], 0.5, { rtol: 1e-14 });
    assertClose(jvp(grad(mySqrt), [tensor(4)], [tensor(1)])[1], -0.25 * Math.pow(4, -1.5), { rtol: 1e-12 });
    assertClose(grad((x: Tensor) => jvp(mySqrt, [x], [tensor(1)])[1])(tensor(4)), -0.25 * Math.pow(4, -1.5), {
      rtol: 1e-12,
    });
  });
  test("several arguments and pytree outputs", () => {
    const f = customVjp(
      (a: Tensor, b: Tensor) => ({ p: mul(a, b), s: add(a, b) }),
      (a: Tensor, b: Tensor) => [{ p: mul(a, b), s: add(a, b) }, [a, b]],
      ([a, b]: Tensor[], g: { p: Tensor; s: Tensor }) => [add(mul(g.p, b!), g.s), add(mul(g.p, a!), g.s)],
    );
    const [out, pb] = vjp((a: Tensor, b: Tensor) => f(a, b), tensor(2), tensor(5));
    assertClose((out as unknown as { p: Tensor }).p, 10);
    const [ga, gb] = pb({ p: tensor(1), s: tensor(1) } as never) as Tensor[];
    assertClose(ga!, 6);
    assertClose(gb!, 3);
    const J = jacfwd((a: Tensor) => f(a, tensor(5)).p)(tensor(2));
    assertClose(J as Tensor, 5);
  });
  test("a bwd that is not differentiable is rejected under forward mode", () => {
    const bad = customVjp(
      (x: Tensor) => sin(x),
      (x: Tensor) => [sin(x), x],
      (x: Tensor, g: Tensor) => [
        tensor(
          g.data.map((v, i) => v * Math.cos(x.data[i]!)),
          g.shape,
        ),
      ],
    );
    assertClose(grad(bad)(tensor(0.5)), Math.cos(0.5), { rtol: 1e-14 });
    assert.throws(() => jvp(bad, [tensor(0.5)], [tensor(1)]), DifferentiationError);
  });
  test("customVjp inside jvp inside grad (mixed nesting)", () => {
    // h(x) = d/dt sqrt(x + t x²) at t=0 = x² / (2 sqrt(x)) = x^1.5 / 2; h'(x) = 0.75 sqrt(x)
    const h = (x: Tensor) => jvp((t: Tensor) => mySqrt(add(x, mul(t, mul(x, x)))), [tensor(0)], [tensor(1)])[1];
    assertClose(h(tensor(4)), 4, { rtol: 1e-12 });
    assertClose(grad(h)(tensor(4)), 0.75 * 2, { rtol: 1e-12 });
  });
});

describe("tape memory", () => {
  test("no growth across 10^4 grad calls", () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    assert.ok(gc, "run with --expose-gc");
    const f = (x: Tensor) => sum(mul(exp(x), sin(x)));
    const x = tensor(Float64Array.from({ length: 100 }, (_, i) => i / 100));
    const g = grad(f);
    for (let i = 0; i < 500; i++) g(x);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10000; i++) g(x);
    gc();
    const after = process.memoryUsage().heapUsed;
    // 10^4 tapes of ~6 nodes holding 100-element tensors would be > 50 MB if retained.
    assert.ok(after - before < 2e6, `heap grew by ${((after - before) / 1e6).toFixed(2)} MB`);
  });
});

/**
 * Elementwise ops: forward values against Math, first derivatives against finite differences and closed
 * forms (jacfwd, jacrev, adjoint identity), second derivatives against closed forms (unary) or finite
 * differences of the gradient (binary), broadcasting, and error messages.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  scalar,
  neg,
  reciprocal,
  square,
  sqrt,
  exp,
  log,
  log1p,
  expm1,
  sin,
  cos,
  tan,
  tanh,
  sinh,
  cosh,
  asinh,
  arctan,
  sigmoid,
  softplus,
  relu,
  abs,
  sign,
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  where,
  clip,
  greater,
  greaterEqual,
  less,
  lessEqual,
  equal,
  notEqual,
  sum,
  grad,
  jvp,
  vjp,
  jacfwd,
  jacrev,
  hessian,
  ShapeError,
  type Shape,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, rng } from "./helpers.js";

type Rng = ReturnType<typeof rng>;
type Sampler = (r: Rng) => number;

const uniform =
  (lo: number, hi: number): Sampler =>
  (r) =>
    r.uniform(lo, hi);
/** Magnitude in [lo, hi] with a random sign: keeps away from a kink or pole at 0. */
const awayFromZero =
  (lo: number, hi: number): Sampler =>
  (r) =>
    (r.uniform() < 0.5 ? -1 : 1) * r.uniform(lo, hi);

function sample(r: Rng, shape: Shape, s: Sampler): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = s(r);
  return tensor(d, shape);
}

interface UnaryCase {
  name: string;
  op: (x: Tensor) => Tensor;
  f: (x: number) => number;
  /** First and second derivatives in closed form. */
  d1: (x: number) => number;
  d2: (x: number) => number;
  domain: Sampler;
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));

const unaryCases: UnaryCase[] = [
  { name: "neg", op: neg, f: (x) => -x, d1: () => -1, d2: () => 0, domain: uniform(-2, 2) },
  {
    name: "reciprocal",
    op: reciprocal,
    f: (x) => 1 / x,
    d1: (x) => -1 / (x * x),
    d2: (x) => 2 / (x * x * x),
    domain: awayFromZero(0.5, 2),
  },
  { name: "square", op: square, f: (x) => x * x, d1: (x) => 2 * x, d2: () => 2, domain: uniform(-2, 2) },
  {
    name: "sqrt",
    op: sqrt,
    f: Math.sqrt,
    d1: (x) => 0.5 / Math.sqrt(x),
    d2: (x) => -0.25 * Math.pow(x, -1.5),
    domain: uniform(0.2, 3),
  },
  { name: "exp", op: exp, f: Math.exp, d1: Math.exp, d2: Math.exp, domain: uniform(-2, 2) },
  { name: "log", op: log, f: Math.log, d1: (x) => 1 / x, d2: (x) => -1 / (x * x), domain: uniform(0.2, 3) },
  {
    name: "log1p",
    op: log1p,
    f: Math.log1p,
    d1: (x) => 1 / (1 + x),
    d2: (x) => -1 / ((1 + x) * (1 + x)),
    domain: uniform(-0.5, 2),
  },
  { name: "expm1", op: expm1, f: Math.expm1, d1: Math.exp, d2: Math.exp, domain: uniform(-2, 2) },
  { name: "sin", op: sin, f: Math.sin, d1: Math.cos, d2: (x) => -Math.sin(x), domain: uniform(-3, 3) },
  { name: "cos", op: cos, f: Math.cos, d1: (x) => -Math.sin(x), d2: (x) => -Math.cos(x), domain: uniform(-3, 3) },
  {
    name: "tan",
    op: tan,
    f: Math.tan,
    d1: (x) => 1 + Math.tan(x) ** 2,
    d2: (x) => 2 * Math.tan(x) * (1 + Math.tan(x) ** 2),
    domain: uniform(-1.2, 1.2),
  },
  {
    name: "tanh",
    op: tanh,
    f: Math.tanh,
    d1: (x) => 1 - Math.tanh(x) ** 2,
    d2: (x) => -2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2),
    domain: uniform(-2, 2),
  },
  { name: "sinh", op: sinh, f: Math.sinh, d1: Math.cosh, d2: Math.sinh, domain: uniform(-2, 2) },
  { name: "cosh", op: cosh, f: Math.cosh, d1: Math.sinh, d2: Math.cosh, domain: uniform(-2, 2) },
  {
    name: "asinh",
    op: asinh,
    f: Math.asinh,
    d1: (x) => 1 / Math.sqrt(1 + x * x),
    d2: (x) => -x / Math.pow(1 + x * x, 1.5),
    domain: uniform(-3, 3),
  },
  {
    name: "arctan",
    op: arctan,
    f: Math.atan,
    d1: (x) => 1 / (1 + x * x),
    d2: (x) => (-2 * x) / (1 + x * x) ** 2,
    domain: uniform(-3, 3),
  },
  {
    name: "sigmoid",
    op: sigmoid,
    f: sig,
    d1: (x) => sig(x) * (1 - sig(x)),
    d2: (x) => sig(x) * (1 - sig(x)) * (1 - 2 * sig(x)),
    domain: uniform(-4, 4),
  },
  {
    name: "softplus",
    op: softplus,
    f: (x) => Math.log(1 + Math.exp(x)),
    d1: sig,
    d2: (x) => sig(x) * (1 - sig(x)),
    domain: uniform(-4, 4),
  },
  {
    name: "relu",
    op: relu,
    f: (x) => Math.max(x, 0),
    d1: (x) => (x > 0 ? 1 : 0),
    d2: () => 0,
    domain: awayFromZero(0.1, 2),
  },
  { name: "abs", op: abs, f: Math.abs, d1: Math.sign, d2: () => 0, domain: awayFromZero(0.1, 2) },
  { name: "sign", op: sign, f: Math.sign, d1: () => 0, d2: () => 0, domain: awayFromZero(0.1, 2) },
];

describe("unary elementwise ops", () => {
  unaryCases.forEach((c, k) => {
    describe(c.name, () => {
      const r = rng(100 + k);
      test("forward values match Math", () => {
        const x = sample(r, [3, 4], c.domain);
        const y = c.op(x);
        assert.deepEqual(y.shape, [3, 4]);
        assertClose(y, tensor(x.data.map(c.f), [3, 4]), { rtol: 1e-14, atol: 1e-15 });
        const s = c.op(scalar(x.data[0]!));
        assert.deepEqual(s.shape, []);
        assertClose(s.item(), c.f(x.data[0]!), { rtol: 1e-14, atol: 1e-15 });
      });
      test("jacfwd, jacrev and vjp/jvp agree with finite differences", () => {
        checkDerivatives(c.op, [sample(r, [2, 3], c.domain)], {}, c.name);
      });
      test("gradient matches the closed form", () => {
        const x = sample(r, [5], c.domain);
        const g = grad((z: Tensor) => sum(c.op(z)))(x) as Tensor;
        assertClose(g, tensor(x.data.map(c.d1)), { rtol: 1e-12, atol: 1e-14 });
      });
      test("second derivative matches the closed form (forward-over-reverse and reverse-over-reverse)", () => {
        const x = sample(r, [4], c.domain);
        const expected = new Float64Array(16);
        for (let i = 0; i < 4; i++) expected[i * 5] = c.d2(x.data[i]!);
        const f = (z: Tensor) => sum(c.op(z));
        assertClose(hessian(f)(x) as Tensor, tensor(expected, [4, 4]), { rtol: 1e-10, atol: 1e-13 });
        assertClose(jacrev(grad(f))(x) as Tensor, tensor(expected, [4, 4]), { rtol: 1e-10, atol: 1e-13 });
      });
    });
  });

  test("stable kernels at extreme arguments", () => {
    const x = tensor([-800, -40, 0, 40, 800]);
    assertClose(sigmoid(x), [0, sig(-40), 0.5, sig(40), 1], { rtol: 1e-15, atol: 0 });
    assertClose(softplus(x), [0, Math.exp(-40), Math.LN2, 40 + Math.exp(-40), 800], { rtol: 1e-15, atol: 1e-300 });
    const g = grad((z: Tensor) => sum(softplus(z)))(x) as Tensor;
    assert.ok(g.data.every(Number.isFinite));
    assertClose(log1p(tensor([1e-17])), [1e-17], { rtol: 1e-15 });
    assertClose(expm1(tensor([1e-17])), [1e-17], { rtol: 1e-15 });
  });

  test("kinks: relu, abs and sign have derivative 0 at 0", () => {
    for (const op of [relu, abs, sign]) {
      const g = grad((z: Tensor) => sum(op(z)))(tensor([0, -0])) as Tensor;
      assert.deepEqual([...g.data].map(Math.abs), [0, 0]);
    }
    assert.deepEqual(sign(tensor([-3, 0, 2])).toArray(), [-1, 0, 1]);
    assert.ok(Number.isNaN(sign(tensor([NaN])).item()));
  });
});

// ---------------------------------------------------------------------------------------------------------
// Binary ops

/** Reference NumPy broadcasting, written independently of src/core/shape.ts. */
function refBroadcast(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const nd = Math.max(a.ndim, b.ndim);
  const pad = (s: Shape) => [...new Array(nd - s.length).fill(1), ...s];
  const sa = pad(a.shape);
  const sb = pad(b.shape);
  const shape = sa.map((d, i) => Math.max(d, sb[i]!));
  const size = shape.reduce((p, d) => p * d, 1);
  const out = new Float64Array(size);
  const flatIndex = (s: number[], multi: number[]) =>
    multi.reduce((acc, m, i) => acc * s[i]! + (s[i] === 1 ? 0 : m), 0);
  for (let k = 0; k < size; k++) {
    const multi: number[] = new Array(nd);
    let rest = k;
    for (let i = nd - 1; i >= 0; i--) {
      multi[i] = rest % shape[i]!;
      rest = Math.floor(rest / shape[i]!);
    }
    out[k] = f(a.data[flatIndex(sa, multi)]!, b.data[flatIndex(sb, multi)]!);
  }
  return tensor(out, shape);
}

interface BinaryCase {
  name: string;
  op: (a: Tensor, b: Tensor) => Tensor;
  f: (x: number, y: number) => number;
  /** Partial derivatives in closed form. */
  da: (x: number, y: number) => number;
  db: (x: number, y: number) => number;
  domainA: Sampler;
  domainB: Sampler;
  /** Smooth (so second derivatives are checked against finite differences of the gradient). */
  smooth: boolean;
}

const binaryCases: BinaryCase[] = [
  {
    name: "add",
    op: add,
    f: (x, y) => x + y,
    da: () => 1,
    db: () => 1,
    domainA: uniform(-2, 2),
    domainB: uniform(-2, 2),
    smooth: true,
  },
  {
    name: "sub",
    op: sub,
    f: (x, y) => x - y,
    da: () => 1,
    db: () => -1,
    domainA: uniform(-2, 2),
    domainB: uniform(-2, 2),
    smooth: true,
  },
  {
    name: "mul",
    op: mul,
    f: (x, y) => x * y,
    da: (_x, y) => y,
    db: (x) => x,
    domainA: uniform(-2, 2),
    domainB: uniform(-2, 2),
    smooth: true,
  },
  {
    name: "div",
    op: div,
    f: (x, y) => x / y,
    da: (_x, y) => 1 / y,
    db: (x, y) => -x / (y * y),
    domainA: uniform(-2, 2),
    domainB: awayFromZero(0.5, 2),
    smooth: true,
  },
  {
    name: "pow",
    op: pow,
    f: Math.pow,
    da: (x, y) => y * Math.pow(x, y - 1),
    db: (x, y) => Math.pow(x, y) * Math.log(x),
    domainA: uniform(0.3, 2.5),
    domainB: uniform(-1.5, 2.5),
    smooth: true,
  },
  // Ties are measure-zero; the seeded samples below keep |a − b| ≥ 1e-3 (asserted).
  {
    name: "maximum",
    op: maximum,
    f: Math.max,
    da: (x, y) => (x >= y ? 1 : 0),
    db: (x, y) => (x < y ? 1 : 0),
    domainA: uniform(-2, 2),
    domainB: uniform(-2, 2),
    smooth: false,
  },
  {
    name: "minimum",
    op: minimum,
    f: Math.min,
    da: (x, y) => (x <= y ? 1 : 0),
    db: (x, y) => (x > y ? 1 : 0),
    domainA: uniform(-2, 2),
    domainB: uniform(-2, 2),
    smooth: false,
  },
];

const shapePairs: [Shape, Shape][] = [
  [
    [2, 3],
    [2, 3],
  ],
  [
    [3, 1],
    [1, 4],
  ],
  [[4], [2, 4]],
  [[], [2, 3]],
  [[2, 3], []],
  [
    [2, 1, 3],
    [4, 1],
  ],
];

/** Sums `full` (of the broadcast shape) down to `shape`, by the reference broadcasting rule. */
function refSumTo(full: Tensor, shape: Shape): Float64Array {
  const out = new Float64Array(shape.reduce((p, d) => p * d, 1));
  const index = refBroadcast(tensor(Float64Array.from(out.keys()), shape), full, (i) => i);
  for (let k = 0; k < full.size; k++) out[index.data[k]!] += full.data[k]!;
  return out;
}

describe("binary elementwise ops with broadcasting", () => {
  binaryCases.forEach((c, k) => {
    describe(c.name, () => {
      const r = rng(200 + k);
      for (const [sa, sb] of shapePairs) {
        const label = `[${sa.join(",")}] × [${sb.join(",")}]`;
        const a = sample(r, sa, c.domainA);
        const b = sample(r, sb, c.domainB);
        if (!c.smooth) {
          const gap = refBroadcast(a, b, (x, y) => Math.abs(x - y));
          assert.ok(Math.min(...gap.data) >= 1e-3, `${c.name} ${label}: test data too close to a tie`);
        }
        test(`${label}: forward values`, () => {
          assertClose(c.op(a, b), refBroadcast(a, b, c.f), { rtol: 1e-14, atol: 1e-15 });
        });
        test(`${label}: derivatives vs finite differences and closed forms`, () => {
          checkDerivatives(c.op, [a, b], {}, `${c.name} ${label}`);
          const [ga, gb] = grad((x: Tensor, y: Tensor) => sum(c.op(x, y)), { argnums: [0, 1] })(a, b) as Tensor[];
          assertClose(ga!.data, refSumTo(refBroadcast(a, b, c.da), sa), { rtol: 1e-12, atol: 1e-14 });
          assertClose(gb!.data, refSumTo(refBroadcast(a, b, c.db), sb), { rtol: 1e-12, atol: 1e-14 });
        });
        test(`${label}: second derivatives (all four blocks) vs finite differences of the gradient`, () => {
          const weights = sample(r, [...refBroadcast(a, b, c.f).shape], uniform(-1, 1));
          const f = (x: Tensor, y: Tensor) => sum(mul(weights, c.op(x, y)));
          for (const i of [0, 1]) {
            const gi = (x: Tensor, y: Tensor) => grad(f, { argnums: i })(x, y) as Tensor;
            for (const j of [0, 1]) {
              const H = jacfwd(gi, { argnums: j })(a, b) as Tensor;
              const Hr = jacrev(gi, { argnums: j })(a, b) as Tensor;
              const fd = numericJacobian(gi, [a, b], j, 1e-5);
              assertClose(H.data, fd, { rtol: 1e-6, atol: 1e-7 }, `${c.name} ${label} H[${i}][${j}] fwd`);
              assertClose(Hr.data, fd, { rtol: 1e-6, atol: 1e-7 }, `${c.name} ${label} H[${i}][${j}] rev`);
            }
          }
        });
      }
      test("a broadcasting failure throws a ShapeError naming the op and both shapes", () => {
        assert.throws(
          () =>
            c.op(
              tensor([
                [1, 2, 3],
                [4, 5, 6],
              ]),
              tensor([1, 2]),
            ),
          (e: unknown) =>
            e instanceof ShapeError &&
            /^\w+/.test(e.message) &&
            e.message.includes(c.name) &&
            e.message.includes("[2, 3]") &&
            e.message.includes("[2]"),
        );
      });
    });
  });

  test("pow: negative base with a constant integer exponent, and zero base", () => {
    const x = tensor([-1.5, -0.5, 2]);
    assertClose(pow(x, 3), [-3.375, -0.125, 8], { rtol: 1e-15 });
    checkDerivatives((z: Tensor) => pow(z, 3), [x], {}, "pow(x, 3)");
    // At a = 0: d/da a² = 0 and d/db a^b = 0 (the limit for b > 0), not NaN.
    const [ga, gb] = grad((a: Tensor, b: Tensor) => sum(pow(a, b)), { argnums: [0, 1] })(
      tensor([0, 0]),
      tensor([2, 1]),
    ) as Tensor[];
    assert.deepEqual(ga!.toArray(), [0, 1]);
    assert.deepEqual(gb!.toArray(), [0, 0]);
  });

  test("maximum/minimum give the derivative to the first argument on ties", () => {
    const x = tensor([1, 2]);
    for (const op of [maximum, minimum]) {
      const [ga, gb] = grad((a: Tensor, b: Tensor) => sum(op(a, b)), { argnums: [0, 1] })(x, x) as Tensor[];
      assert.deepEqual(ga!.toArray(), [1, 1]);
      assert.deepEqual(gb!.toArray(), [0, 0]);
    }
  });

  test("method aliases match the free functions", () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([0.5, -2]);
    assert.deepEqual(a.add(b).toArray(), add(a, b).toArray());
    assert.deepEqual(a.sub(b).toArray(), sub(a, b).toArray());
    assert.deepEqual(a.mul(b).toArray(), mul(a, b).toArray());
    assert.deepEqual(a.div(b).toArray(), div(a, b).toArray());
    assert.deepEqual(a.pow(2).toArray(), pow(a, 2).toArray());
  });
});

describe("where and clip", () => {
  const r = rng(300);
  test("where broadcasts its three arguments; the condition gets no derivative", () => {
    const cond = tensor([[1], [0], [1]]);
    const a = sample(r, [1, 4], uniform(-1, 1));
    const b = sample(r, [], uniform(-1, 1));
    const out = where(cond, a, b);
    assert.deepEqual(out.shape, [3, 4]);
    const expected = refBroadcast(
      refBroadcast(cond, a, (c, x) => (c !== 0 ? x : NaN)),
      b,
      (x, y) => (Number.isNaN(x) ? y : x),
    );
    assertClose(out, expected, { rtol: 0, atol: 0 });
    checkDerivatives((x: Tensor, y: Tensor) => where(cond, x, y), [a, b], {}, "where");
    const [gc, ga, gb] = grad((c: Tensor, x: Tensor, y: Tensor) => sum(where(c, x, y)), { argnums: [0, 1, 2] })(
      cond,
      a,
      b,
    ) as Tensor[];
    assert.deepEqual(gc!.toArray(), [[0], [0], [0]]);
    assert.deepEqual(ga!.toArray(), [[2, 2, 2, 2]]);
    assert.deepEqual(gb!.item(), 4);
    // Second derivatives through where: d²/dx² sum(where(c, x³, x²)) = where(c, 6x, 2).
    const x = tensor([0.5, -1, 2]);
    const c = tensor([1, 0, 1]);
    const H = hessian((z: Tensor) => sum(where(c, pow(z, 3), square(z))))(x) as Tensor;
    assertClose(
      H,
      tensor([
        [3, 0, 0],
        [0, 2, 0],
        [0, 0, 12],
      ]),
      { rtol: 1e-14 },
    );
  });
  test("where: a broadcasting failure throws a ShapeError naming where and the shapes", () => {
    assert.throws(
      () => where(tensor([1, 0, 1]), tensor([1, 2]), 0),
      (e: unknown) =>
        e instanceof ShapeError &&
        e.message.includes("where") &&
        e.message.includes("[3]") &&
        e.message.includes("[2]"),
    );
  });
  test("clip: values, derivative 1 inside and 0 outside, and derivatives to tensor bounds", () => {
    const x = tensor([-2, -0.3, 0.4, 3]);
    assert.deepEqual(clip(x, -1, 1).toArray(), [-1, -0.3, 0.4, 1]);
    assert.deepEqual(clip(x, undefined, 0).toArray(), [-2, -0.3, 0, 0]);
    assert.deepEqual(clip(x, 0).toArray(), [0, 0, 0.4, 3]);
    assert.deepEqual((grad((z: Tensor) => sum(clip(z, -1, 1)))(x) as Tensor).toArray(), [0, 1, 1, 0]);
    const lo = tensor([-1, -1, -1, -1]);
    const hi = tensor([1, 1, 0, 1]);
    checkDerivatives((z: Tensor, l: Tensor, h: Tensor) => clip(z, l, h), [x, lo, hi], {}, "clip");
    const [, gl, gh] = grad((z: Tensor, l: Tensor, h: Tensor) => sum(clip(z, l, h)), { argnums: [0, 1, 2] })(
      x,
      lo,
      hi,
    ) as Tensor[];
    assert.deepEqual(gl!.toArray(), [1, 0, 0, 0]);
    assert.deepEqual(gh!.toArray(), [0, 0, 1, 1]);
  });
});

describe("comparisons", () => {
  const cases: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => boolean][] = [
    ["greater", greater, (x, y) => x > y],
    ["greaterEqual", greaterEqual, (x, y) => x >= y],
    ["less", less, (x, y) => x < y],
    ["lessEqual", lessEqual, (x, y) => x <= y],
    ["equal", equal, (x, y) => x === y],
    ["notEqual", notEqual, (x, y) => x !== y],
  ];
  // Integer-valued data so that ties occur.
  const a = tensor([[0], [1], [2]]);
  const b = tensor([[2, 1, 0, 1]]);
  for (const [name, op, f] of cases) {
    test(`${name}: broadcast values as 1/0, no derivative, ShapeError on mismatch`, () => {
      assertClose(
        op(a, b),
        refBroadcast(a, b, (x, y) => (f(x, y) ? 1 : 0)),
        { rtol: 0, atol: 0 },
      );
      const [, t] = jvp(
        (x: Tensor, y: Tensor) => op(x, y),
        [a, b],
        [tensor([[1], [1], [1]]), tensor([[1, 1, 1, 1]])],
      ) as [Tensor, Tensor];
      assert.deepEqual([...t.data], new Array(12).fill(0));
      const [, pullback] = vjp((x: Tensor, y: Tensor) => op(x, y), a, b);
      const [ga, gb] = pullback(tensor(new Float64Array(12).fill(1), [3, 4])) as Tensor[];
      assert.deepEqual([...ga!.data, ...gb!.data], new Array(7).fill(0));
      assert.throws(
        () => op(tensor([1, 2, 3]), tensor([1, 2])),
        (e: unknown) =>
          e instanceof ShapeError && e.message.includes(name) && e.message.includes("[3]") && e.message.includes("[2]"),
      );
    });
  }
});

/**
 * Reductions (sum, mean, max, min, argmax, argmin) against an independent reference over every axis
 * layout, their derivatives (finite differences, closed forms, tie splitting, second derivatives), error
 * cases, and checkFinite.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  sum,
  mean,
  prod,
  max,
  min,
  argmax,
  argmin,
  mul,
  square,
  grad,
  jvp,
  hessian,
  checkFinite,
  NonFiniteError,
  ValueError,
  type Shape,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

/** Reference reduction by explicit multi-index iteration (independent of the library's index helpers). */
function refReduce(
  x: Tensor,
  axis: number | number[] | undefined,
  keepdims: boolean,
  f: (vals: number[]) => number,
): Tensor {
  const nd = x.ndim;
  const axes =
    axis === undefined
      ? x.shape.map((_, i) => i)
      : (typeof axis === "number" ? [axis] : axis).map((a) => (a < 0 ? a + nd : a));
  const groups = new Map<string, number[]>();
  const keys: string[] = [];
  for (let k = 0; k < x.size; k++) {
    let rest = k;
    const multi: number[] = new Array(nd);
    for (let i = nd - 1; i >= 0; i--) {
      multi[i] = rest % x.shape[i]!;
      rest = Math.floor(rest / x.shape[i]!);
    }
    const key = multi.filter((_, i) => !axes.includes(i)).join(",");
    if (!groups.has(key)) {
      groups.set(key, []);
      keys.push(key);
    }
    groups.get(key)!.push(x.data[k]!);
  }
  const out = Float64Array.from(keys, (key) => f(groups.get(key)!));
  const shape = keepdims
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  return tensor(out, shape);
}

const axisCases: (number | number[] | undefined)[] = [
  undefined,
  0,
  1,
  2,
  -1,
  -3,
  [0, 2],
  [2, 0],
  [1, 2],
  [0, 1],
  [0, 1, 2],
];
const label = (axis: number | number[] | undefined, keepdims: boolean) =>
  `axis ${JSON.stringify(axis) ?? "all"}${keepdims ? ", keepdims" : ""}`;

const reductions: [string, typeof sum, (v: number[]) => number][] = [
  ["sum", sum, (v) => v.reduce((a, b) => a + b, 0)],
  ["mean", mean, (v) => v.reduce((a, b) => a + b, 0) / v.length],
  ["prod", prod, (v) => v.reduce((a, b) => a * b, 1)],
  ["max", max, (v) => Math.max(...v)],
  ["min", min, (v) => Math.min(...v)],
];

describe("reductions over every axis layout", () => {
  const r = rng(11);
  const x = randn(r, [2, 3, 4]);
  for (const [name, op, f] of reductions) {
    describe(name, () => {
      for (const axis of axisCases) {
        for (const keepdims of [false, true]) {
          test(`${label(axis, keepdims)}: values and derivatives`, () => {
            const opts = { axis, keepdims };
            assertClose(op(x, opts), refReduce(x, axis, keepdims, f), { rtol: 1e-14, atol: 1e-15 });
            checkDerivatives((z: Tensor) => op(z, opts), [x], {}, `${name} ${label(axis, keepdims)}`);
          });
        }
      }
      test("a scalar and an empty axis list reduce nothing", () => {
        assert.equal(op(tensor(2.5)).item(), 2.5);
        assert.deepEqual(op(x, { axis: [] }).toArray(), x.toArray());
      });
    });
  }
});

describe("closed-form derivatives", () => {
  const r = rng(12);
  test("mean: gradient 1/n over the reduced axes", () => {
    const x = randn(r, [3, 5]);
    assertClose(
      grad((z: Tensor) => sum(mean(z, { axis: 1 })))(x) as Tensor,
      tensor(new Float64Array(15).fill(1 / 5), [3, 5]),
      { rtol: 1e-15 },
    );
    assertClose(grad((z: Tensor) => mean(z))(x) as Tensor, tensor(new Float64Array(15).fill(1 / 15), [3, 5]), {
      rtol: 1e-15,
    });
  });
  test("max/min: gradient is the one-hot of the extremum; Hessian of max(x)² is 2 there", () => {
    const x = tensor([
      [0.3, 2.5, -1],
      [4, 0.1, 3.9],
    ]);
    assert.deepEqual((grad((z: Tensor) => sum(max(z, { axis: 1 })))(x) as Tensor).toArray(), [
      [0, 1, 0],
      [1, 0, 0],
    ]);
    assert.deepEqual((grad((z: Tensor) => sum(min(z, { axis: 0 })))(x) as Tensor).toArray(), [
      [1, 0, 1],
      [0, 1, 0],
    ]);
    const H = hessian((z: Tensor) => sum(square(max(z, { axis: 1 }))))(x) as Tensor;
    const expected = new Float64Array(36);
    expected[1 * 6 + 1] = 2;
    expected[3 * 6 + 3] = 2;
    assert.deepEqual([...H.data], [...expected]);
  });
  test("ties: the derivative is split equally among tied extrema (as in JAX), in both modes", () => {
    const x = tensor([3, 1, 3, 3]);
    assertClose(grad((z: Tensor) => max(z))(x) as Tensor, [1 / 3, 0, 1 / 3, 1 / 3], { rtol: 1e-15 });
    const [, t] = jvp((z: Tensor) => max(z), [x], [tensor([1, 5, 0, 2])]) as [Tensor, Tensor];
    assertClose(t, 1, { rtol: 1e-15 });
    const y = tensor([
      [2, 2],
      [-1, 4],
      [2, 0],
    ]);
    assert.deepEqual((grad((z: Tensor) => sum(min(z, { axis: 1 })))(y) as Tensor).toArray(), [
      [0.5, 0.5],
      [1, 0],
      [0, 1],
    ]);
    assert.deepEqual((grad((z: Tensor) => sum(max(z, { axis: 0 })))(y) as Tensor).toArray(), [
      [0.5, 0],
      [0, 1],
      [0.5, 0],
    ]);
  });
  test("second derivatives of mean (zero) and of mean² (1/n² everywhere)", () => {
    const x = randn(r, [2, 2]);
    assert.ok((hessian((z: Tensor) => mean(z))(x) as Tensor).data.every((v) => v === 0));
    const H = hessian((z: Tensor) => square(mean(z)))(x) as Tensor;
    assertClose(H, tensor(new Float64Array(16).fill(2 / 16), [2, 2, 2, 2]), { rtol: 1e-15 });
  });
});

describe("prod with zeros: exact derivatives without division", () => {
  /** ∂ prod / ∂x_i and ∂² prod / ∂x_i ∂x_j as products of the other entries. */
  const others = (v: number[], skip: number[]) => v.reduce((acc, x, k) => (skip.includes(k) ? acc : acc * x), 1);
  for (const v of [
    [2, -0.5, 3, 1.5, -2],
    [2, 0, 3, 1.5, -2],
    [0, 4, 0, 1.5, -2],
  ]) {
    test(`x = [${v.join(", ")}]: gradient and Hessian in closed form`, () => {
      const x = tensor(v);
      assertClose(
        grad((z: Tensor) => prod(z))(x) as Tensor,
        v.map((_, i) => others(v, [i])),
        { rtol: 1e-15, atol: 0 },
      );
      const H = Float64Array.from({ length: 25 }, (_, k) => {
        const i = Math.floor(k / 5);
        const j = k % 5;
        return i === j ? 0 : others(v, [i, j]);
      });
      assertClose((hessian((z: Tensor) => prod(z))(x) as Tensor).data, H, { rtol: 1e-15, atol: 0 });
      checkDerivatives((z: Tensor) => prod(z), [x], {}, "prod with zeros");
    });
  }
  test("prod along an axis of a matrix with zeros; product of an empty axis is 1; x.prod()", () => {
    const x = tensor([
      [1, 0, 3],
      [2, 5, -1],
    ]);
    assert.deepEqual(prod(x, { axis: 1 }).toArray(), [0, -10]);
    assert.deepEqual((grad((z: Tensor) => sum(prod(z, { axis: 1 })))(x) as Tensor).toArray(), [
      [0, 3, 0],
      [-5, -2, 10],
    ]);
    assert.deepEqual(prod(tensor(new Float64Array(0), [2, 0]), { axis: 1 }).toArray(), [1, 1]);
    assert.deepEqual(x.prod({ axis: 0, keepdims: true }).toArray(), [[2, 0, -3]]);
  });
});

describe("NaN, empty axes and bad arguments", () => {
  test("max/min propagate NaN", () => {
    assert.ok(Number.isNaN(max(tensor([1, NaN, 3])).item()));
    assert.ok(Number.isNaN(min(tensor([NaN, 1, 3])).item()));
    assert.deepEqual(
      max(
        tensor([
          [1, NaN],
          [2, 0],
        ]),
        { axis: 1 },
      )
        .toArray()
        .toString(),
      "NaN,2",
    );
  });
  test("empty reductions: sum is 0; mean, max, min, argmax throw a ValueError", () => {
    const e = tensor(new Float64Array(0), [2, 0]);
    assert.deepEqual(sum(e, { axis: 1 }).toArray(), [0, 0]);
    for (const [name, f] of [
      ["mean", () => mean(e, { axis: 1 })],
      ["max", () => max(e, { axis: 1 })],
      ["min", () => min(e)],
      ["argmax", () => argmax(e, { axis: 1 })],
    ] as const) {
      assert.throws(
        f,
        (err: unknown) => err instanceof ValueError && err.message.startsWith(name) && err.message.includes("[2, 0]"),
      );
    }
  });
  test("bad axes throw a ValueError naming the op and the axis", () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    const ops: [string, () => unknown][] = [
      ["sum", () => sum(x, { axis: 2 })],
      ["mean", () => mean(x, { axis: -3 })],
      ["prod", () => prod(x, { axis: 2 })],
      ["max", () => max(x, { axis: 2 })],
      ["min", () => min(x, { axis: 1.5 })],
      ["max", () => max(x, { axis: [0, -2] })],
      ["argmax", () => argmax(x, { axis: 2 })],
      ["argmin", () => argmin(x, { axis: -3 })],
    ];
    for (const [name, f] of ops) {
      assert.throws(
        f,
        (e: unknown) => e instanceof ValueError && e.message.startsWith(`${name}:`) && /axis/.test(e.message),
        name,
      );
    }
  });
});

describe("argmax and argmin", () => {
  const r = rng(13);
  const x = randn(r, [3, 4, 5]);
  const refArg = (vals: number[], better: (a: number, b: number) => boolean) =>
    vals.reduce((best, v, i) => (better(v, vals[best]!) ? i : best), 0);
  for (const axis of [0, 1, 2, -1]) {
    for (const keepdims of [false, true]) {
      test(`${label(axis, keepdims)} matches the reference`, () => {
        assertClose(
          argmax(x, { axis, keepdims }),
          refReduce(x, axis, keepdims, (v) => refArg(v, (a, b) => a > b)),
          { rtol: 0, atol: 0 },
        );
        assertClose(
          argmin(x, { axis, keepdims }),
          refReduce(x, axis, keepdims, (v) => refArg(v, (a, b) => a < b)),
          { rtol: 0, atol: 0 },
        );
      });
    }
  }
  test("flattened index without axis; keepdims gives all-ones shape", () => {
    const k = argmax(x).item();
    assert.equal(x.data[k], Math.max(...x.data));
    assert.deepEqual(argmin(x, { keepdims: true }).shape, [1, 1, 1]);
    assert.equal(x.data[argmin(x).item()], Math.min(...x.data));
  });
  test("first occurrence on ties; the first NaN wins (as NumPy)", () => {
    assert.equal(argmax(tensor([1, 3, 3, 0])).item(), 1);
    assert.equal(argmin(tensor([2, 0, 5, 0])).item(), 1);
    assert.equal(argmax(tensor([1, NaN, 3, NaN])).item(), 1);
    assert.equal(argmin(tensor([NaN, -1])).item(), 0);
  });
  test("indices are constants under differentiation", () => {
    const g = grad((z: Tensor) => sum(mul(z, argmax(z, { axis: 1, keepdims: true }))))(
      tensor([
        [1, 5, 2],
        [9, 0, 1],
      ]),
    ) as Tensor;
    assert.deepEqual(g.toArray(), [
      [1, 1, 1],
      [0, 0, 0],
    ]);
  });
});

describe("method aliases", () => {
  test("x.mean(), x.max(), x.min(), x.argmax(), x.argmin()", () => {
    const x = tensor([
      [1, 5, 2],
      [9, 0, 1],
    ]);
    assert.equal(x.mean().item(), 3);
    assert.deepEqual(x.max({ axis: 1 }).toArray(), [5, 9]);
    assert.deepEqual(x.min({ axis: 0, keepdims: true }).toArray(), [[1, 0, 1]]);
    assert.deepEqual(x.argmax({ axis: 1 }).toArray(), [1, 0]);
    assert.equal(x.argmin().item(), 4);
  });
});

describe("checkFinite", () => {
  test("returns its argument unchanged, traced or not", () => {
    const x = tensor([1, -2, 3e300]);
    assert.equal(checkFinite(x, "x"), x);
    const g = grad((z: Tensor) => sum(square(checkFinite(z, "z"))))(x.mul(1e-300)) as Tensor;
    assertClose(g, [2e-300, -4e-300, 6], { rtol: 1e-15 });
  });
  const cases: [string, Tensor, Shape, string][] = [
    [
      "NaN in a matrix",
      tensor([
        [1, 2],
        [NaN, Infinity],
      ]),
      [2, 2],
      "2 non-finite entries; the first is NaN at index [1, 0]",
    ],
    [
      "-Infinity in a vector",
      tensor([0, 1, -Infinity]),
      [3],
      "1 non-finite entry; the first is -Infinity at index [2]",
    ],
    ["Infinity in a scalar", tensor(Infinity), [], "1 non-finite entry; the first is Infinity at index []"],
    [
      "NaN deep in a 3-D tensor",
      tensor(
        Float64Array.from({ length: 24 }, (_, i) => (i === 17 ? NaN : i)),
        [2, 3, 4],
      ),
      [2, 3, 4],
      "the first is NaN at index [1, 1, 1]",
    ],
  ];
  for (const [name, x, shape, fragment] of cases) {
    test(`throws a NonFiniteError naming the argument, count, value and position: ${name}`, () => {
      assert.throws(
        () => checkFinite(x, "theta"),
        (e: unknown) =>
          e instanceof NonFiniteError &&
          e.message.includes('argument "theta"') &&
          e.message.includes(`shape [${shape.join(", ")}]`) &&
          e.message.includes(fragment),
      );
    });
  }
});

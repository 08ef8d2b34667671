/**
 * var, std, any, all, diff (`statistics.ts`): values against NumPy (fixtures, every axis/ddof/keepdims
 * combination), derivatives against finite differences and closed forms, the subgradient of std at constant
 * input, `vmap` against the loop, and argument errors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as diffopt from "../src/index.js";
import { all, any, diff, grad, hessian, relu, std, tensor, vmap, ValueError, type Tensor } from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";
import { assertTreeClose, loopRef } from "./vmap-helpers.js";
import { decode, fixtureTensor, fixtures } from "./numpy-fixtures.js";

const variance = diffopt.var;

interface StatCase {
  axis: number | number[] | null;
  ddof: number;
  keepdims: boolean;
  var: { shape: number[]; data: number[] };
  std: { shape: number[]; data: number[] };
}

describe("var, std: values against NumPy", () => {
  const x = fixtureTensor(fixtures.stats.x);
  for (const c of fixtures.stats.cases as StatCase[]) {
    const opts = { axis: c.axis ?? undefined, ddof: c.ddof, keepdims: c.keepdims };
    test(`axis ${JSON.stringify(c.axis)}, ddof ${c.ddof}, keepdims ${c.keepdims}`, () => {
      assertClose(variance(x, opts), fixtureTensor(c.var), { rtol: 1e-14, atol: 0 });
      assertClose(std(x, opts), fixtureTensor(c.std), { rtol: 1e-14, atol: 0 });
      assertClose(x.var(opts), fixtureTensor(c.var), { rtol: 1e-14, atol: 0 });
      assertClose(x.std(opts), fixtureTensor(c.std), { rtol: 1e-14, atol: 0 });
    });
  }
  test("std neither overflows nor underflows (1e200, 1e-200, where NumPy's squares underflow to 0)", () => {
    const { big, tiny } = fixtures.stats;
    assertClose(std(fixtureTensor(big.x)).item(), decode(big.std), { rtol: 1e-15, atol: 0 });
    assertClose(std(fixtureTensor(tiny.x)).item(), decode(tiny.std), { rtol: 1e-15, atol: 0 });
    assert.equal(variance(tensor([3])).item(), 0);
    assert.deepEqual(variance(tensor([[1, 2]]), { axis: [] }).toArray(), [[0, 0]]);
  });
});

describe("var, std: derivatives", () => {
  const x = randn(rng(2), [3, 4]);
  test("closed form ∂var/∂xᵢ = 2(xᵢ − mean)/(N − ddof) and ∂std = that / (2 std)", () => {
    const v = tensor([1, 2, 4, 9]);
    const m = 4;
    assertClose(
      grad((t: Tensor) => variance(t, { ddof: 1 }))(v),
      [-3, -2, 0, 5].map((d) => (2 * d) / 3),
      {
        rtol: 1e-15,
        atol: 0,
      },
    );
    const s = Math.sqrt(((-3) ** 2 + 2 ** 2 + 0 + 5 ** 2) / m);
    assertClose(
      grad((t: Tensor) => std(t))(v),
      [-3, -2, 0, 5].map((d) => d / (m * s)),
      { rtol: 1e-15, atol: 0 },
    );
  });
  test("finite differences, adjoint identity and second order, over axes", () => {
    for (const opts of [{}, { axis: 0, ddof: 1 }, { axis: [0, 1], keepdims: true }, { axis: -1, ddof: 2 }]) {
      checkDerivatives((t) => variance(t, opts), [x], {}, JSON.stringify(opts));
      checkDerivatives((t) => std(t, opts), [x], {}, JSON.stringify(opts));
    }
    checkDerivatives((t) => grad((u: Tensor) => std(u))(t), [x]);
    // var is quadratic: its Hessian is 2(I − 11ᵀ/N)/(N − ddof).
    const h = hessian((t: Tensor) => variance(t, { ddof: 1 }))(tensor([1, 5, 2])).toArray() as number[][];
    h.forEach((row, i) =>
      row.forEach((hij, j) => assertClose(hij, (2 * ((i === j ? 1 : 0) - 1 / 3)) / 2, { rtol: 1e-15 })),
    );
  });
  test("std at constant input: derivative 0 (a subgradient), never NaN, at every order", () => {
    assert.deepEqual(grad((t: Tensor) => std(t))(tensor([5, 5, 5])).toArray(), [0, 0, 0]);
    const rows = tensor([
      [1, 1],
      [2, 3],
    ]);
    assertClose(grad((t: Tensor) => std(t, { axis: 1 }).sum())(rows), [0, 0, -0.5, 0.5], { rtol: 1e-15, atol: 0 });
    const h = hessian((t: Tensor) => std(t))(tensor([2, 2]));
    assert.ok(h.data.every((v) => Number.isFinite(v)));
  });
});

describe("any, all, diff", () => {
  test("any and all against NumPy (NaN is non-zero), and empty reductions", () => {
    const x = fixtureTensor(fixtures.logical.x);
    for (const ax of ["None", "0", "1"]) {
      const opts = ax === "None" ? undefined : { axis: Number(ax) };
      assertClose(any(x, opts), fixtureTensor(fixtures.logical.any[ax]), { rtol: 0, atol: 0 });
      assertClose(all(x, opts), fixtureTensor(fixtures.logical.all[ax]), { rtol: 0, atol: 0 });
      assertClose(x.any(opts), fixtureTensor(fixtures.logical.any[ax]), { rtol: 0, atol: 0 });
    }
    const empty = tensor(new Float64Array(0), [0, 2]);
    assert.deepEqual([any(empty).item(), all(empty).item()], [0, 1]);
    assert.deepEqual(all(tensor([[1, 0]]), { axis: 1, keepdims: true }).toArray(), [[0]]);
    assert.deepEqual(grad((t: Tensor) => any(t).add(all(t)).add(t.sum()))(tensor([1, 0])).toArray(), [1, 1]);
  });
  test("diff against NumPy (n = 0..7 on every axis; n beyond the length gives an empty axis)", () => {
    const x = fixtureTensor(fixtures.diff.x);
    for (const c of fixtures.diff.cases as { n: number; axis: number; y: { shape: number[]; data: number[] } }[]) {
      assertClose(diff(x, c.n, c.axis), fixtureTensor(c.y), { rtol: 1e-14, atol: 1e-14 }, `n ${c.n} axis ${c.axis}`);
    }
  });
  test("diff: derivatives (the transpose of differencing) and vmap", () => {
    const x = randn(rng(4), [3, 5]);
    checkDerivatives((t) => diff(t), [x]);
    checkDerivatives((t) => diff(t, 2, 0), [x]);
    assert.deepEqual(grad((t: Tensor) => diff(t).sum())(tensor([1, 4, 9])).toArray(), [-1, 0, 1]);
    assertTreeClose(
      vmap((t: Tensor) => diff(t, 2))(x),
      loopRef((t) => diff(t, 2), [x], [0]),
    );
    assertTreeClose(
      vmap((t: Tensor) => diff(t, 1, 0), { inAxes: 1 })(x),
      loopRef((t) => diff(t, 1, 0), [x], [1]),
    );
  });
  test("vmap of var, std, any, all equals the loop", () => {
    const x = randn(rng(6), [4, 3, 5]);
    const fs = [
      (t: Tensor) => variance(t, { ddof: 1 }),
      (t: Tensor) => std(t, { axis: 1, keepdims: true }),
      (t: Tensor) => any(relu(t.sub(0.5)), { axis: 0 }),
      (t: Tensor) => all(relu(t)),
      (t: Tensor) => grad((u: Tensor) => std(u))(t),
    ];
    for (const f of fs) {
      assertTreeClose(vmap(f)(x), loopRef(f, [x], [0]));
      assertTreeClose(vmap(f, { inAxes: 2 })(x), loopRef(f, [x], [2]));
    }
  });
});

describe("errors", () => {
  test("ddof, n and axis are checked, naming the function and the argument", () => {
    const x = tensor([1, 2, 3]);
    assert.throws(
      () => variance(x, { ddof: 3 }),
      (e: Error) => e instanceof ValueError && /^var: ddof 3 leaves no degrees/.test(e.message),
    );
    assert.throws(
      () => std(x, { ddof: -1 }),
      (e: Error) => e instanceof ValueError && /^std: ddof must be/.test(e.message),
    );
    assert.throws(
      () => std(tensor(new Float64Array(0), [0])),
      (e: Error) => e instanceof ValueError && /^std: ddof 0/.test(e.message),
    );
    assert.throws(
      () => variance(x, { axis: 1 }),
      (e: Error) => e instanceof ValueError && /^var: axis 1/.test(e.message),
    );
    assert.throws(
      () => diff(x, -1),
      (e: Error) => e instanceof ValueError && /^diff: n must be/.test(e.message),
    );
    assert.throws(
      () => diff(x, 1.5),
      (e: Error) => e instanceof ValueError && /^diff: n must be/.test(e.message),
    );
    // NumPy's keyword habit, diff(x, n=2), written as an options object: named, with the positional form.
    assert.throws(
      () => diff(x, { n: 2 } as unknown as number),
      (e: Error) => e instanceof ValueError && /got an object \(diff takes positional arguments/.test(e.message),
    );
    assert.throws(
      () => diff(tensor(3)),
      (e: Error) => e instanceof ValueError && /^diff: x must have/.test(e.message),
    );
    assert.throws(
      () => diff(x, 1, 2),
      (e: Error) => e instanceof ValueError && /^diff: axis 2/.test(e.message),
    );
    assert.throws(
      () => any("x" as unknown as Tensor),
      (e: Error) => e instanceof ValueError && /^any: x: /.test(e.message),
    );
  });
});

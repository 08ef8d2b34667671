/**
 * norm: vector p-norms and matrix norms against explicit references, scaling (no overflow/underflow),
 * derivatives (finite differences, closed forms, second derivatives), the zero vector (derivative 0, never
 * NaN), and errors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  zeros,
  norm,
  sum,
  mul,
  grad,
  jvp,
  jacrev,
  hessian,
  ValueError,
  type NormOptions,
} from "../src/index.js";
import { assertClose, checkDerivatives, numericJacobian, randn, rng } from "./helpers.js";

function pnormRef(v: number[], p: number): number {
  const a = v.map(Math.abs);
  if (p === Infinity) return Math.max(...a);
  if (p === -Infinity) return Math.min(...a);
  return Math.pow(
    a.reduce((s, x) => s + Math.pow(x, p), 0),
    1 / p,
  );
}

/** Vector norms along the last or first axis of a matrix, by explicit loops. */
function refVectorNorms(x: Tensor, axis: 0 | 1, p: number): number[] {
  const [m, n] = x.shape as [number, number];
  const at = (i: number, j: number) => x.data[i * n + j]!;
  return axis === 1
    ? Array.from({ length: m }, (_, i) =>
        pnormRef(
          Array.from({ length: n }, (_, j) => at(i, j)),
          p,
        ),
      )
    : Array.from({ length: n }, (_, j) =>
        pnormRef(
          Array.from({ length: m }, (_, i) => at(i, j)),
          p,
        ),
      );
}

/** Matrix norms of an m×n matrix by definition. */
function refMatrixNorm(x: Tensor, ord: number | "fro"): number {
  if (ord === "fro") return pnormRef([...x.data], 2);
  const [m, n] = x.shape as [number, number];
  const colSums = Array.from({ length: n }, (_, j) =>
    Array.from({ length: m }, (_, i) => Math.abs(x.data[i * n + j]!)).reduce((a, b) => a + b),
  );
  const rowSums = Array.from({ length: m }, (_, i) =>
    Array.from({ length: n }, (_, j) => Math.abs(x.data[i * n + j]!)).reduce((a, b) => a + b),
  );
  if (ord === 1) return Math.max(...colSums);
  if (ord === -1) return Math.min(...colSums);
  if (ord === Infinity) return Math.max(...rowSums);
  return Math.min(...rowSums);
}

const vectorOrds = [2, 1, Infinity, -Infinity, 3, 1.5, 0.5];

describe("vector norms", () => {
  const r = rng(41);
  const x = randn(r, [3, 4]);
  for (const ord of vectorOrds) {
    for (const axis of [0, 1, -1] as const) {
      test(`ord ${ord}, axis ${axis}: values and derivatives`, () => {
        const ax = axis === -1 ? 1 : axis;
        assertClose(norm(x, { ord, axis }), refVectorNorms(x, ax, ord), { rtol: 1e-14 });
        const kept = norm(x, { ord, axis, keepdims: true });
        assert.deepEqual(kept.shape, ax === 0 ? [1, 4] : [3, 1]);
        checkDerivatives((z: Tensor) => norm(z, { ord, axis }), [x], {}, `norm ord ${ord} axis ${axis}`);
      });
    }
  }
  test("defaults: the 2-norm of the whole tensor; a 1-D tensor with ord", () => {
    const y = randn(r, [2, 3, 4]);
    assertClose(norm(y), pnormRef([...y.data], 2), { rtol: 1e-14 });
    assert.deepEqual(norm(y, { keepdims: true }).shape, [1, 1, 1]);
    const v = randn(r, [7]);
    for (const ord of vectorOrds) assertClose(norm(v, { ord }), pnormRef([...v.data], ord), { rtol: 1e-14 });
    assert.equal(norm(tensor(-3)).item(), 3);
  });
  test("closed forms: ∇‖x‖₂ = x/‖x‖, ∇²‖x‖₂ = (I − x xᵀ/‖x‖²)/‖x‖, ∇‖x‖ₚ = sign(x)|x|^(p−1)/‖x‖ₚ^(p−1)", () => {
    const v = randn(r, [4]);
    const n = pnormRef([...v.data], 2);
    assertClose(
      grad((z: Tensor) => norm(z))(v) as Tensor,
      v.data.map((a) => a / n),
      { rtol: 1e-14 },
    );
    const H = Float64Array.from({ length: 16 }, (_, k) => {
      const i = Math.floor(k / 4);
      const j = k % 4;
      return ((i === j ? 1 : 0) - (v.data[i]! * v.data[j]!) / (n * n)) / n;
    });
    assertClose((hessian((z: Tensor) => norm(z))(v) as Tensor).data, H, { rtol: 1e-13, atol: 1e-15 });
    for (const p of [3, 1.5, 0.5]) {
      const np = pnormRef([...v.data], p);
      const expected = v.data.map((a) => (Math.sign(a) * Math.pow(Math.abs(a), p - 1)) / Math.pow(np, p - 1));
      assertClose(grad((z: Tensor) => norm(z, { ord: p }))(v) as Tensor, expected, { rtol: 1e-13 });
    }
  });
  for (const ord of [2, 3, 1.5]) {
    test(`second derivatives of ord ${ord} (along an axis) vs finite differences of the gradient`, () => {
      const w = randn(r, [3]);
      const f = (z: Tensor) => sum(mul(w, norm(z, { ord, axis: 1 })));
      const fd = numericJacobian((z: Tensor) => grad(f)(z) as Tensor, [x], 0, 1e-5);
      assertClose((hessian(f)(x) as Tensor).data, fd, { rtol: 1e-6, atol: 1e-8 });
      assertClose((jacrev((z: Tensor) => grad(f)(z) as Tensor)(x) as Tensor).data, fd, { rtol: 1e-6, atol: 1e-8 });
    });
  }
});

describe("matrix norms", () => {
  const r = rng(42);
  const a = randn(r, [3, 4]);
  for (const ord of ["fro", 1, -1, Infinity, -Infinity] as const) {
    test(`ord ${ord}: values (2-D and batched, either axis order) and derivatives`, () => {
      assertClose(norm(a, { ord }), refMatrixNorm(a, ord), { rtol: 1e-14 });
      assertClose(norm(a, { ord, axis: [0, 1] }), refMatrixNorm(a, ord), { rtol: 1e-14 });
      // axis [1, 0] is the transposed matrix.
      const aT = tensor(
        Float64Array.from({ length: 12 }, (_, k) => a.data[(k % 3) * 4 + Math.floor(k / 3)]!),
        [4, 3],
      );
      assertClose(norm(a, { ord, axis: [1, 0] }), refMatrixNorm(aT, ord), { rtol: 1e-14 });
      checkDerivatives((z: Tensor) => norm(z, { ord }), [a], {}, `matrix norm ${ord}`);
      const batch = randn(r, [2, 3, 4]);
      const nb = norm(batch, { ord, axis: [1, 2] });
      assert.deepEqual(nb.shape, [2]);
      for (let b = 0; b < 2; b++) {
        assertClose(nb.data[b]!, refMatrixNorm(tensor(batch.data.slice(12 * b, 12 * b + 12), [3, 4]), ord), {
          rtol: 1e-14,
        });
      }
      assert.deepEqual(norm(batch, { ord, axis: [-1, 0], keepdims: true }).shape, [1, 3, 1]);
      checkDerivatives((z: Tensor) => norm(z, { ord, axis: [2, 0] }), [batch], {}, `batched matrix norm ${ord}`);
    });
  }
});

describe("scaling and special values", () => {
  test("no overflow or underflow", () => {
    assertClose(norm(tensor([3e200, 4e200])), 5e200, { rtol: 1e-15 });
    assertClose(norm(tensor([3e-200, 4e-200])), 5e-200, { rtol: 1e-15 });
    assertClose(norm(tensor([1e200, 1e200]), { ord: 3 }), Math.cbrt(2) * 1e200, { rtol: 1e-14 });
    assertClose(norm(tensor([1e-300, 1e-300]), { ord: 0.5 }), 4e-300, { rtol: 1e-14 });
    assertClose(grad((z: Tensor) => norm(z))(tensor([3e-200, 4e-200])) as Tensor, [0.6, 0.8], { rtol: 1e-15 });
    // Lanes of one block that need scaling next to lanes that do not.
    const mixed = tensor([
      [3e200, 3, 3e-200, 3e149],
      [4e200, 4, 4e-200, 4e149],
    ]);
    assertClose(norm(mixed, { axis: 0 }), [5e200, 5, 5e-200, 5e149], { rtol: 1e-15 });
    assertClose(norm(mixed.T, { axis: 1 }), [5e200, 5, 5e-200, 5e149], { rtol: 1e-15 });
  });
  test("infinite entries give +Infinity; NaN propagates", () => {
    assert.equal(norm(tensor([1, -Infinity])).item(), Infinity);
    assert.equal(norm(tensor([1, Infinity]), { ord: 3 }).item(), Infinity);
    assert.ok(Number.isNaN(norm(tensor([1, NaN])).item()));
    assert.ok(Number.isNaN(norm(tensor([Infinity, NaN])).item()));
  });
  test("empty lanes have norm 0", () => {
    assert.deepEqual(norm(tensor(new Float64Array(0), [2, 0]), { axis: 1 }).toArray(), [0, 0]);
  });
});

describe("derivatives at zero: 0, never NaN", () => {
  const options: NormOptions[] = [
    {},
    { ord: 2 },
    { ord: 3 },
    { ord: 1.5 },
    { ord: 0.5 },
    { ord: 1 },
    { ord: Infinity },
  ];
  for (const opts of options) {
    test(`ord ${opts.ord ?? "default"}: gradient, JVP and Hessian at x = 0`, () => {
      const z = zeros([3]);
      const f = (v: Tensor) => norm(v, opts);
      const g = grad(f)(z) as Tensor;
      assert.ok(g.data.every(Number.isFinite), `gradient ${g.toString()}`);
      const [, t] = jvp(f, [z], [tensor([1, -2, 0.5])]) as [Tensor, Tensor];
      assert.ok(Number.isFinite(t.item()));
      const H = hessian(f)(z) as Tensor;
      assert.ok(H.data.every(Number.isFinite), `Hessian ${H.toString()}`);
    });
  }
  test("the 2-norm: exactly 0 gradient and Hessian at 0, also lane-wise next to a non-zero lane", () => {
    assert.deepEqual([...(grad((v: Tensor) => norm(v))(zeros([3])) as Tensor).data], [0, 0, 0]);
    assert.ok((hessian((v: Tensor) => norm(v))(zeros([2])) as Tensor).data.every((h) => h === 0));
    const x = tensor([
      [0, 0],
      [3, 4],
    ]);
    assertClose(grad((v: Tensor) => sum(norm(v, { axis: 1 })))(x) as Tensor, [0, 0, 0.6, 0.8], { rtol: 1e-15 });
    assertClose(grad((v: Tensor) => norm(v, { ord: "fro" }))(zeros([2, 2])) as Tensor, [0, 0, 0, 0], { rtol: 0 });
  });
  test("p-norms: exact-zero entries of a non-zero vector get derivative 0 (p < 2), the others the closed form", () => {
    const v = tensor([0, 3, -4]);
    for (const p of [0.5, 1.5, 3]) {
      const np = pnormRef([0, 3, -4], p);
      const expected = [0, Math.pow(3 / np, p - 1), -Math.pow(4 / np, p - 1)];
      assertClose(grad((z: Tensor) => norm(z, { ord: p }))(v) as Tensor, expected, { rtol: 1e-13 });
      assert.ok((hessian((z: Tensor) => norm(z, { ord: p }))(v) as Tensor).data.every(Number.isFinite));
    }
  });
});

describe("derivatives at an infinite norm: the limit, never NaN", () => {
  test("equal weights ±k^(−(p−1)/p) on the k infinite entries, 0 on the finite ones", () => {
    const g = (a: number[], o: NormOptions = {}) => [...(grad((x: Tensor) => norm(x, o))(tensor(a)) as Tensor).data];
    assert.deepEqual(g([0, Infinity]), [0, 1]);
    assert.deepEqual(g([5, -Infinity]), [0, -1]);
    assertClose(tensor(g([-Infinity, Infinity])), [-Math.SQRT1_2, Math.SQRT1_2], { rtol: 1e-15 });
    assertClose(tensor(g([Infinity, Infinity, 2], { ord: 3 })), [2 ** (-2 / 3), 2 ** (-2 / 3), 0], { rtol: 1e-15 });
    assert.deepEqual(g([Infinity, -Infinity], { ord: Infinity }), [0.5, -0.5]);
    assert.deepEqual(g([-Infinity, 2], { ord: 1 }), [-1, 1]);
    // Lanes are separate: an infinite lane beside a finite one.
    const rows = grad((x: Tensor) => sum(norm(x, { axis: 1 })))(
      tensor([
        [Infinity, 7],
        [3, 4],
      ]),
    ) as Tensor;
    assertClose(rows, [
      [1, 0],
      [0.6, 0.8],
    ]);
    assert.ok([...(hessian((x: Tensor) => norm(x))(tensor([Infinity, 1])) as Tensor).data].every(Number.isFinite));
    assert.ok(g([NaN, Infinity]).every(Number.isNaN), "a NaN input stays NaN");
  });
});

describe("errors and alias", () => {
  const x = tensor([
    [1, 2],
    [3, 4],
  ]);
  const bad: [string, () => unknown, RegExp][] = [
    ["ord 0 (vector)", () => norm(x, { ord: 0, axis: 1 }), /invalid ord 0 for a vector norm/],
    ["negative ord", () => norm(x, { ord: -2, axis: 0 }), /invalid ord -2/],
    ["'fro' on a vector", () => norm(tensor([1, 2]), { ord: "fro" }), /invalid ord fro for a vector norm/],
    ["matrix ord 2", () => norm(x, { ord: 2 }), /use linalg.norm/],
    ["'nuc'", () => norm(x, { ord: "nuc" as "fro" }), /invalid ord nuc for a matrix norm/],
    ["three axes", () => norm(tensor([[[1]]]), { axis: [0, 1, 2] }), /one axis .* or two/],
    ["repeated matrix axes", () => norm(x, { ord: 1, axis: [1, -1] }), /must differ/],
    ["ord without axis on 3-D", () => norm(tensor([[[1]]]), { ord: 1 }), /needs a 1-D or 2-D tensor/],
    ["axis out of range", () => norm(x, { axis: 2 }), /axis 2 is out of range/],
  ];
  for (const [name, f, pattern] of bad) {
    test(`${name} throws a ValueError`, () => {
      assert.throws(
        f,
        (e: unknown) => e instanceof ValueError && e.message.startsWith("norm:") && pattern.test(e.message),
      );
    });
  }
  test("x.norm()", () => {
    assert.equal(tensor([3, 4]).norm().item(), 5);
    assert.deepEqual(x.norm({ ord: 1, axis: 0 }).toArray(), [4, 6]);
  });
});

/**
 * Contractions and reorderings: einsum, tensordot, kron (`einsum.ts`), flip, roll (`reorder.ts`). Values against
 * NumPy (fixtures), derivatives against finite differences (they come from the ops they are built from, so a
 * wrong composition would show), `vmap` against the loop, and the typed errors of a bad subscript string.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  einsum,
  flip,
  grad,
  kron,
  matmul,
  roll,
  tensor,
  tensordot,
  trace,
  vmap,
  ShapeError,
  ValueError,
  type Tensor,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";
import { assertTreeClose, loopRef } from "./vmap-helpers.js";
import { fixtureTensor, fixtures, type EncodedArray } from "./numpy-fixtures.js";

interface EinsumCase {
  subscripts: string;
  operands: EncodedArray[];
  y: EncodedArray;
}

describe("einsum", () => {
  const cases = fixtures.einsum as EinsumCase[];
  test("values against NumPy: products, traces, diagonals, transposes, implicit output, ellipsis, broadcasting", () => {
    for (const c of cases) {
      const ops = c.operands.map(fixtureTensor);
      assertClose(einsum(c.subscripts, ...ops), fixtureTensor(c.y), { rtol: 1e-13, atol: 1e-14 }, c.subscripts);
    }
  });
  test("derivatives against finite differences for every fixture case (first order, adjoint identity)", () => {
    for (const c of cases) {
      const ops = c.operands.map(fixtureTensor);
      checkDerivatives((...xs) => einsum(c.subscripts, ...xs), ops, {}, c.subscripts);
    }
  });
  test("second order: the Hessian of the trace of A³ is built from the same ops as matmul", () => {
    const a = randn(rng(1), [3, 3]);
    const viaEinsum = grad((x: Tensor) => einsum("ij,jk,ki", x, x, x));
    const viaMatmul = grad((x: Tensor) => trace(matmul(matmul(x, x), x)));
    assertClose(viaEinsum(a), viaMatmul(a), { rtol: 1e-13, atol: 1e-14 });
    checkDerivatives((x) => viaEinsum(x), [a]);
  });
  test("vmap equals the loop (batched first operand, second, or both along other axes)", () => {
    const r = rng(2);
    const a = randn(r, [4, 2, 3]);
    const b = randn(r, [3, 4]);
    const f = (x: Tensor, y: Tensor) => einsum("ij,jk->ki", x, y);
    const c = randn(r, [3, 2]);
    assertTreeClose(vmap(f, { inAxes: [0, null] })(a, c), loopRef(f, [a, c], [0, null]), 1e-12);
    const g = (x: Tensor, y: Tensor) => einsum("ij,j", x, y);
    assertTreeClose(vmap(g, { inAxes: [0, 1] })(a, b), loopRef(g, [a, b], [0, 1]), 1e-12);
    const tr = (x: Tensor) => einsum("ii", x);
    const sq = randn(r, [5, 3, 3]);
    assertTreeClose(vmap(tr)(sq), loopRef(tr, [sq], [0]), 1e-12);
  });
  test("a bad subscript string is a ValueError naming the problem; operands that do not fit, a ShapeError", () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const value: [string, Tensor[], RegExp][] = [
      ["ij,jk->ik", [a], /describe 2 operand\(s\), but 1 were given/],
      ["ij->ii", [a], /the output 'ii' repeats label 'i'/],
      ["ij->k", [a], /output label 'k' does not appear in any operand/],
      ["i1", [a], /invalid character '1'/],
      ["i.j", [a], /'\.' that is not part of a single '\.\.\.'/],
      ["...i...", [a], /'\.' that is not part of a single '\.\.\.'/],
      ["ij->->i", [a], /'->' more than once/],
      ["ij-i", [a], /stray '-' or '>'/],
      ["...ij->ij", [randn(rng(4), [2, 2, 2])], /stands for 1 axes, but the output 'ij' has no '\.\.\.'/],
    ];
    for (const [s, ops, re] of value) {
      assert.throws(
        () => einsum(s, ...ops),
        (e: Error) => e instanceof ValueError && /^einsum: /.test(e.message) && re.test(e.message),
        s,
      );
    }
    const shape: [string, Tensor[], RegExp][] = [
      ["ijk", [a], /operands\[0\] has 2 axes but its subscripts 'ijk' name 3/],
      [
        "ij,jk",
        [a, tensor([[1, 2, 3]]).reshape([3, 1])],
        /label 'j' has different lengths: operands\[0\] has 2, operands\[1\] has 3/,
      ],
      [
        "ii",
        [
          tensor([[1, 2, 3]])
            .reshape([1, 3])
            .add(tensor([[0], [0]])),
        ],
        /repeats label 'i' over axes of lengths 2 and 3/,
      ],
      ["i", [a], /has 2 axes but its subscripts 'i' name 1/],
    ];
    for (const [s, ops, re] of shape) {
      assert.throws(
        () => einsum(s, ...ops),
        (e: Error) => e instanceof ShapeError && re.test(e.message),
        s,
      );
    }
    assert.throws(
      () => einsum(3 as unknown as string, a),
      (e: Error) => e instanceof ValueError && /^einsum: subscripts must be a string/.test(e.message),
    );
    assert.throws(
      () => einsum("ij", "a" as unknown as Tensor),
      (e: Error) => /^einsum: operands\[0\]: /.test(e.message),
    );
  });
});

describe("tensordot, kron", () => {
  test("values against NumPy", () => {
    for (const c of fixtures.tensordot as {
      a: EncodedArray;
      b: EncodedArray;
      axes: number | number[][];
      y: EncodedArray;
    }[]) {
      const axes = typeof c.axes === "number" ? c.axes : ([c.axes[0]!, c.axes[1]!] as const);
      assertClose(tensordot(fixtureTensor(c.a), fixtureTensor(c.b), axes), fixtureTensor(c.y), {
        rtol: 1e-13,
        atol: 1e-14,
      });
    }
    for (const c of fixtures.kron as { a: EncodedArray; b: EncodedArray; y: EncodedArray }[]) {
      assertClose(kron(fixtureTensor(c.a), fixtureTensor(c.b)), fixtureTensor(c.y), { rtol: 0, atol: 0 });
    }
  });
  test("derivatives against finite differences, and vmap against the loop", () => {
    const r = rng(5);
    const a = randn(r, [3, 4, 2]);
    const b = randn(r, [2, 4, 5]);
    checkDerivatives(
      (x, y) =>
        tensordot(x, y, [
          [1, 2],
          [1, 0],
        ]),
      [a, b],
    );
    checkDerivatives((x, y) => kron(x, y), [randn(r, [2, 3]), randn(r, [3, 2])]);
    const td = (x: Tensor, y: Tensor) => tensordot(x, y, 1);
    assertTreeClose(vmap(td, { inAxes: [0, null] })(a, b), loopRef(td, [a, b], [0, null]), 1e-12);
    const kr = (x: Tensor, y: Tensor) => kron(x, y);
    const c = randn(r, [4, 2]);
    assertTreeClose(vmap(kr, { inAxes: [1, 0] })(a, c), loopRef(kr, [a, c], [1, 0]), 1e-12);
  });
  test("errors name the function and the argument", () => {
    const a = randn(rng(6), [2, 3]);
    assert.throws(
      () => tensordot(a, a, 3),
      (e: Error) => e instanceof ValueError && /^tensordot: axes 3 must be/.test(e.message),
    );
    assert.throws(
      () => tensordot(a, a.T),
      (e: Error) =>
        e instanceof ShapeError && /^tensordot: axis 0 of a \(length 2\) and axis 0 of b \(length 3\)/.test(e.message),
    );
    assert.throws(
      () => tensordot(a, a, [[0], [0, 1]]),
      (e: Error) => e instanceof ValueError && /^tensordot: axes name 1 axes of a but 2 of b/.test(e.message),
    );
    assert.throws(
      () =>
        tensordot(a, a, [
          [0, 0],
          [0, 1],
        ]),
      (e: Error) => e instanceof ValueError && /repeat axis 0/.test(e.message),
    );
    assert.throws(
      () => tensordot(a, a, [[5], [0]]),
      (e: Error) => e instanceof ValueError && /^tensordot: axis 5/.test(e.message),
    );
    assert.throws(
      () => tensordot(a, a, "x" as unknown as number),
      (e: Error) => e instanceof ValueError && /^tensordot: axes must be/.test(e.message),
    );
    assert.throws(
      () => kron(a, "b" as unknown as Tensor),
      (e: Error) => /^kron: b: /.test(e.message),
    );
  });
});

describe("flip, roll", () => {
  test("values against NumPy", () => {
    const x = fixtureTensor(fixtures.flip.x);
    for (const c of fixtures.flip.cases as { axis: number | number[] | null; y: EncodedArray }[]) {
      assertClose(flip(x, c.axis ?? undefined), fixtureTensor(c.y), { rtol: 0, atol: 0 }, JSON.stringify(c.axis));
    }
    for (const c of fixtures.roll.cases as {
      shift: number | number[];
      axis: number | number[] | null;
      y: EncodedArray;
    }[]) {
      assertClose(roll(x, c.shift, c.axis ?? undefined), fixtureTensor(c.y), { rtol: 0, atol: 0 }, JSON.stringify(c));
    }
    assert.deepEqual(roll(tensor(new Float64Array(0), [0]), 3).shape, [0]);
  });
  test("derivatives (the inverse permutation), vmap against the loop", () => {
    const x = randn(rng(7), [3, 4]);
    checkDerivatives((t) => flip(t, 1), [x]);
    checkDerivatives((t) => roll(t, [1, -2], [0, 1]), [x]);
    assert.deepEqual(
      grad((t: Tensor) =>
        roll(t, 1)
          .mul(tensor([1, 2, 3]))
          .sum(),
      )(tensor([0, 0, 0])).toArray(),
      [2, 3, 1],
    );
    for (const f of [(t: Tensor) => flip(t), (t: Tensor) => roll(t, 2), (t: Tensor) => roll(t, -1, 0)]) {
      assertTreeClose(vmap(f)(x), loopRef(f, [x], [0]));
      assertTreeClose(vmap(f, { inAxes: 1 })(x), loopRef(f, [x], [1]));
    }
  });
  test("errors name the function and the argument", () => {
    const x = randn(rng(8), [2, 3]);
    assert.throws(
      () => flip(x, 2),
      (e: Error) => e instanceof ValueError && /^flip: axis 2/.test(e.message),
    );
    assert.throws(
      () => roll(x, 1.5),
      (e: Error) => e instanceof ValueError && /^roll: shift must be an integer/.test(e.message),
    );
    assert.throws(
      () => roll(x, [1, 2]),
      (e: Error) => e instanceof ValueError && /^roll: without axis, shift must be one integer/.test(e.message),
    );
    assert.throws(
      () => roll(x, [1, 2, 3], [0, 1]),
      (e: Error) => e instanceof ValueError && /^roll: shift has 3 entries but axis has 2/.test(e.message),
    );
    assert.throws(
      () => roll(x, 1, 4),
      (e: Error) => e instanceof ValueError && /^roll: axis 4/.test(e.message),
    );
    assert.throws(
      () => flip("x" as unknown as Tensor),
      (e: Error) => /^flip: x: /.test(e.message),
    );
  });
});

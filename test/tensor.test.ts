import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Tensor,
  tensor,
  scalar,
  zeros,
  ones,
  full,
  eye,
  arange,
  linspace,
  zerosLike,
  onesLike,
  asTensor,
  grad,
  sum,
  mul,
  ShapeError,
  ValueError,
  DifferentiationError,
  stopGradient,
} from "../src/index.js";

describe("creation", () => {
  test("tensor from nested arrays, numbers and Float64Array", () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual([...t.shape], [2, 3]);
    assert.equal(t.size, 6);
    assert.equal(t.ndim, 2);
    assert.deepEqual(t.toArray(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(tensor(3).shape, []);
    assert.equal(tensor(3).item(), 3);
    const src = new Float64Array([1, 2, 3, 4]);
    const u = tensor(src, [2, 2]);
    src[0] = 99;
    assert.equal(u.data[0], 1, "tensor copies a Float64Array");
    assert.deepEqual(tensor([]).shape, [0]);
    assert.equal(tensor(u), u);
  });
  test("bad input raises typed errors naming the problem", () => {
    assert.throws(() => tensor([[1, 2], [3]]), ShapeError);
    assert.throws(() => tensor(new Float64Array(3), [2, 2]), /3 values do not fill shape \[2, 2\]/);
    assert.throws(() => zeros([2, -1]), ValueError);
    assert.throws(() => zeros([1.5]), ValueError);
    assert.throws(() => tensor([1, 2]).item(), /one element.*\[2\]/);
    assert.throws(() => arange(0, 1, 0), ValueError);
    assert.throws(() => linspace(0, 1, -2), ValueError);
  });
  test("constant constructors", () => {
    assert.deepEqual(scalar(2.5).toArray(), 2.5);
    assert.deepEqual(zeros([2]).toArray(), [0, 0]);
    assert.deepEqual(ones([1, 2]).toArray(), [[1, 1]]);
    assert.deepEqual(full([2], 7).toArray(), [7, 7]);
    assert.deepEqual(eye(2, 3).toArray(), [
      [1, 0, 0],
      [0, 1, 0],
    ]);
    assert.deepEqual(arange(4).toArray(), [0, 1, 2, 3]);
    assert.deepEqual(arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75]);
    assert.deepEqual(arange(3, 0, -1).toArray(), [3, 2, 1]);
    assert.deepEqual(linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(linspace(2, 3, 1).toArray(), [2]);
    const x = tensor([[1, 2]]);
    assert.deepEqual(zerosLike(x).toArray(), [[0, 0]]);
    assert.deepEqual(onesLike(x).toArray(), [[1, 1]]);
    assert.ok(asTensor(2) instanceof Tensor);
  });
});

describe("inspection", () => {
  test("toFloat64Array returns a copy", () => {
    const x = tensor([1, 2]);
    const c = x.toFloat64Array();
    c[0] = 5;
    assert.equal(x.data[0], 1);
  });
  test("toString is readable and summarises large tensors", () => {
    assert.equal(
      tensor([
        [1, 2],
        [3, 4.5],
      ]).toString(),
      "tensor([[1, 2], [3, 4.5]], shape=[2, 2])",
    );
    assert.equal(tensor(0.1 + 0.2).toString(), "tensor(0.3)");
    assert.equal(arange(2000).toString(), "tensor([0, 1, 2, …, 1997, 1998, 1999], shape=[2000])");
  });
  test("a traced tensor prints its values; reading them as numbers needs stopGradient", () => {
    let seen: number[] = [];
    grad((x: Tensor) => {
      assert.throws(() => [...x.data], DifferentiationError);
      seen = [...stopGradient(x).data];
      assert.match(x.toString(), /tensor\(\[1, 2\], shape=\[2\], traced at level \d+\)/);
      return sum(mul(x, x));
    })(tensor([1, 2]));
    assert.deepEqual(seen, [1, 2]);
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { tree, tensor, grad, mul, sum, TreeMismatchError, type Tensor } from "../src/index.js";
import { assertClose } from "./helpers.js";

describe("tree", () => {
  const t = { w: tensor([1, 2]), layers: [tensor(3), { b: tensor([[4]]) }], none: null };
  test("flatten and unflatten round-trip, depth-first in key order", () => {
    const [leaves, def] = tree.flatten(t);
    assert.deepEqual(
      leaves.map((l) => l.toArray()),
      [[1, 2], 3, [[4]]],
    );
    const back = tree.unflatten<typeof t>(def, leaves);
    assert.equal(back.w, t.w);
    assert.equal(back.none, null);
    assert.equal((back.layers[1] as { b: Tensor }).b, (t.layers[1] as { b: Tensor }).b);
    assert.equal(tree.describe(def), "{w: *, layers: [*, {b: *}], none: null}");
    assert.throws(() => tree.unflatten(def, leaves.slice(1)), TreeMismatchError);
  });
  test("numbers are scalar leaves; other objects are rejected", () => {
    const [leaves] = tree.flatten([1, tensor(2)]);
    assert.deepEqual(
      leaves.map((l) => l.item()),
      [1, 2],
    );
    assert.throws(
      () => tree.flatten(new Map() as never),
      (e) => e instanceof TreeMismatchError && /^tree\.flatten: the pytree is a Map, not a tensor/.test(e.message),
    );
  });
  test("a node that is not a pytree is named by its path", () => {
    const bad = { w: [tensor(1), { "my key": "s" }], b: tensor(0) };
    assert.throws(
      () => tree.flatten(bad as never),
      /^TreeMismatchError: tree\.flatten: the pytree at \.w\[1\]\["my key"\] is the string "s", not a tensor or a pytree/,
    );
    // a typed array is named with its remedy; the path goes through the keys and indices flatten visited
    const shared = new Float64Array(2);
    assert.throws(
      () => tree.flatten({ a: [tensor(1)], b: [tensor(2), shared], c: shared } as never),
      /the pytree at \.b\[1\] is a Float64Array, not a tensor or a pytree; wrap it with tensor\(\.\.\.\)/,
    );
  });
  test("leafwise arithmetic, inner product and norm", () => {
    const a = { x: tensor([1, 2]), y: [tensor(3)] };
    const b = { x: tensor([3, 4]), y: [tensor(-1)] };
    assertClose(tree.add(a, b).x, [4, 6]);
    assertClose(tree.sub(a, b).y[0]!, 4);
    assertClose(tree.scale(2, a).x, [2, 4]);
    assertClose(tree.vdot(a, b), 1 * 3 + 2 * 4 + 3 * -1);
    assertClose(tree.norm(a), Math.sqrt(14));
    assertClose(tree.zerosLike(a).x, [0, 0]);
    assert.equal(tree.leaves(a).length, 2);
    assertClose(tree.map((u, v) => mul(u, v!), a, b).x, [3, 8]);
  });
  test("structure and shape mismatches are typed errors naming what differs", () => {
    assert.throws(() => tree.add({ x: tensor(1) } as never, { y: tensor(1) } as never), TreeMismatchError);
    assert.throws(() => tree.vdot([tensor([1, 2])], [tensor([1, 2, 3])]), /leaf 0 has shape \[3\], expected \[2\]/);
  });
  test("transforms differentiate through pytree operations", () => {
    const g = grad((p: { x: Tensor; y: Tensor[] }) => sum(mul(tree.norm(p), 1)))({
      x: tensor([3]),
      y: [tensor(4)],
    }) as {
      x: Tensor;
      y: Tensor[];
    };
    assertClose(g.x, 0.6);
    assertClose(g.y[0]!, 0.8);
  });
});

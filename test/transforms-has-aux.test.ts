/**
 * `hasAux` on jacfwd, jacrev and hessian (JAX's has_aux): the Jacobian is that of the first output, the aux comes
 * back undifferentiated, it nests with the other transforms and vmap, and a function that does not return a pair
 * is a typed error naming the transform.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  grad,
  hessian,
  jacfwd,
  jacrev,
  mul,
  pow,
  sin,
  sum,
  tensor,
  vmap,
  ValueError,
  type Tensor,
} from "../src/index.js";
import { assertClose } from "./helpers.js";

const f = (x: Tensor) => [mul(x, x), { s: sum(x), n: 3 }] as const;

describe("hasAux", () => {
  for (const [name, jac] of [
    ["jacfwd", jacfwd],
    ["jacrev", jacrev],
  ] as const) {
    test(`${name}: [jacobian of the first output, aux]; aux is the plain value`, () => {
      const [j, aux] = jac(f, { hasAux: true })(tensor([1, 2]));
      assert.deepEqual(j.toArray(), [
        [2, 0],
        [0, 4],
      ]);
      assert.equal(aux.s.item(), 3);
      assert.equal(aux.n.item(), 3);
      assert.equal(aux.s.level, 0);
      // The same Jacobian as without aux; with argnums too.
      assert.deepEqual(j.toArray(), jac((x: Tensor) => mul(x, x))(tensor([1, 2])).toArray());
      const [[ja, jb], aux2] = jac((a: Tensor, b: Tensor) => [mul(a, b), sin(a)] as const, {
        hasAux: true,
        argnums: [0, 1],
      })(tensor([1, 2]), tensor([3, 4]));
      assert.deepEqual(
        [ja.toArray(), jb.toArray()],
        [
          [
            [3, 0],
            [0, 4],
          ],
          [
            [1, 0],
            [0, 2],
          ],
        ],
      );
      assertClose(aux2, [Math.sin(1), Math.sin(2)], { rtol: 0, atol: 0 });
    });
    test(`${name}: nests under grad and vmap (the Jacobian differentiates, the aux batches)`, () => {
      const g = grad((x: Tensor) => sum(jac((y: Tensor) => [pow(y, 3), y] as const, { hasAux: true })(x)[0]));
      // Σᵢ 3xᵢ² is the sum of the diagonal Jacobian; its gradient 6x.
      assert.deepEqual(g(tensor([1, 2])).toArray(), [6, 12]);
      const batched = vmap((x: Tensor) => jac(f, { hasAux: true })(x)[1].s)(
        tensor([
          [1, 2],
          [3, 4],
        ]),
      );
      assert.deepEqual(batched.toArray(), [3, 7]);
    });
    test(`${name}: a function that does not return a pair is a ValueError naming ${name}`, () => {
      assert.throws(
        () => jac((x: Tensor) => x, { hasAux: true })(tensor([1])),
        (e: Error) =>
          e instanceof ValueError && new RegExp(`^${name}: with hasAux, f must return a pair`).test(e.message),
      );
      assert.throws(
        () => jac(f, { hasAux: 1 } as unknown as { hasAux: true }),
        (e: Error) =>
          e instanceof ValueError && new RegExp(`^${name}: hasAux must be true or false, got`).test(e.message),
      );
    });
  }
  test("hessian: [hessian, aux]", () => {
    const [h, aux] = hessian((x: Tensor) => [sum(pow(x, 3)), sum(x)] as const, { hasAux: true })(tensor([1, 2]));
    assert.deepEqual(h.toArray(), [
      [6, 0],
      [0, 12],
    ]);
    assert.equal(aux.item(), 3);
  });
  test("grad checks hasAux the same way; an unknown option is still rejected", () => {
    assert.throws(
      () => grad(sum, { hasAux: "yes" } as unknown as { hasAux: true }),
      (e: Error) => e instanceof ValueError && /^grad: hasAux must be true or false/.test(e.message),
    );
    assert.throws(
      () => jacrev(f, { hasaux: true } as unknown as { hasAux: true }),
      (e: Error) => e instanceof ValueError && /jacrev/.test(e.message) && /hasaux/.test(e.message),
    );
  });
});

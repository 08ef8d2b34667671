/**
 * The backward pass adds further cotangents of a slot in place into a sum it created itself (engine.ts). These
 * tests build graphs where a wrongly shared buffer would change a gradient: a sum handed by add's rule to two
 * parents unchanged, fan-out before and after such a sum, broadcasting and subtraction, the caller's seeds, a
 * pullback called twice, and higher-order derivatives (traced cotangents). Each size runs below and above the
 * WebAssembly elementwise threshold (512 elements), on both kernel backends.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  add,
  cos,
  exp,
  grad,
  jvp,
  matmul,
  mul,
  neg,
  sin,
  sub,
  sum,
  tanh,
  tensor,
  useKernels,
  vjp,
  type Tensor,
} from "../src/index.js";
import { assertClose, checkDerivatives, randn, rng } from "./helpers.js";

const map = (x: Tensor, f: (v: number) => number) => tensor(x.data.map(f));

for (const kernels of ["wasm", "ts"] as const) {
  describe(`backward accumulation in place (${kernels} kernels)`, () => {
    const run = <T>(f: () => T): T => {
      const previous = useKernels(kernels);
      try {
        return f();
      } finally {
        useKernels(previous);
      }
    };

    for (const n of [5, 600]) {
      const x = randn(rng(n), [n]);

      test(`a sum passed unchanged to two parents stays theirs alone (n = ${n})`, () => {
        // s = sin x + cos x is used twice (its slot gets a sum made by the pass, 7·1); add's rule hands that sum
        // to sin and cos alike, and sin then gets 3 more from m. Writing the 3 into the shared sum would make
        // cos's cotangent 10 instead of 7.
        const f = (v: Tensor) => {
          const p = sin(v);
          const q = cos(v);
          const m = mul(p, 3);
          const s = add(p, q);
          return sum(add(add(mul(s, 2), mul(s, 5)), m));
        };
        const g = run(() => grad(f)(x));
        assertClose(
          g,
          x.data.map((v) => 10 * Math.cos(v) - 7 * Math.sin(v)),
          { rtol: 1e-13, atol: 1e-13 },
        );
      });

      test(`fan-out through add, sub and neg before and after sums (n = ${n})`, () => {
        // u reaches the output through a + b + c (add's and sub's rules pass the same cotangent on), and x
        // itself is used five times.
        const f = (v: Tensor) => {
          const u = exp(mul(v, 0.1));
          const a = add(u, v);
          const b = sub(u, v);
          const c = add(neg(u), mul(v, v));
          const d = add(add(a, b), add(c, u));
          return sum(add(mul(d, d), sub(a, b)));
        };
        // d = 2u + v² (the v's cancel), a − b = 2v: f = Σ (2u + v²)² + 2v, u = e^{0.1v}.
        const expected = x.data.map((v) => {
          const u = Math.exp(0.1 * v);
          return 2 * (2 * u + v * v) * (0.2 * u + 2 * v) + 2;
        });
        assertClose(
          run(() => grad(f)(x)),
          expected,
          { rtol: 1e-12, atol: 1e-12 },
        );
      });

      test(`broadcast operands: a scalar's sum and the vector's (n = ${n})`, () => {
        // s is broadcast into three adds (its cotangents are fresh reductions); v's slot collects pass-through
        // cotangents of matching shape.
        const f = (v: Tensor, s: Tensor) => {
          const a = add(v, s);
          const b = mul(add(s, v), 2);
          const c = sub(sin(v), s);
          return sum(mul(add(add(a, b), c), v));
        };
        const s = tensor(0.3);
        // (a + b + c) = 3v + 2s + sin v: ∂/∂v = 3v + 2s + sin v + v(3 + cos v), ∂/∂s = 2 Σ v.
        const [gv, gs] = run(() => grad(f, { argnums: [0, 1] })(x, s) as Tensor[]);
        assertClose(
          gv!,
          x.data.map((v) => 3 * v + 0.6 + Math.sin(v) + v * (3 + Math.cos(v))),
          { rtol: 1e-12, atol: 1e-12 },
        );
        assertClose(gs!, [2 * x.data.reduce((t, v) => t + v, 0)], { rtol: 1e-12, atol: 1e-12 });
      });

      test(`the caller's seeds are never written, and a pullback can run twice (n = ${n})`, () => {
        // Two outputs are the same tensor, so both seeds land in one slot; the sum then reaches x by three paths.
        const f = (v: Tensor) => {
          const y = add(add(sin(v), v), mul(v, v));
          return [y, y];
        };
        const r = rng(n + 1);
        const u1 = randn(r, [n]);
        const u2 = randn(r, [n]);
        const seeds = [u1.data.slice(), u2.data.slice()];
        const [, pullback] = run(() => vjp(f, x));
        const first = run(() => pullback([u1, u2]) as Tensor[])[0]!;
        const firstValues = first.data.slice();
        const second = run(() => pullback([u1, u2]) as Tensor[])[0]!;
        assert.deepEqual(u1.data, seeds[0]);
        assert.deepEqual(u2.data, seeds[1]);
        assert.deepEqual(first.data, firstValues, "the first result is left alone by the second pass");
        assert.deepEqual(second.data, firstValues);
        const expected = x.data.map((v, i) => (u1.data[i]! + u2.data[i]!) * (Math.cos(v) + 1 + 2 * v));
        assertClose(first, expected, { rtol: 1e-12, atol: 1e-12 });
      });
    }

    test("an unrolled fixed-point loop matches finite differences (weight gradient summed over iterations)", () => {
      const r = rng(3);
      const d = 6;
      const W = mul(randn(r, [d, d]), 0.3);
      const b = randn(r, [d]);
      const f = (Wm: Tensor, bv: Tensor) => {
        let z = bv;
        for (let i = 0; i < 6; i++) z = tanh(add(matmul(Wm, z), bv));
        return z;
      };
      run(() => checkDerivatives(f, [W, b]));
    });

    test("higher order: second derivatives through fan-out (cotangents traced)", () => {
      // f(v) = Σ sin(v)·v + v³ with v used four times; f'' = 2cos v − v sin v + 6v.
      const f = (v: Tensor) => sum(add(mul(sin(v), v), mul(mul(v, v), v)));
      const x = randn(rng(9), [7]);
      const d2 = (v: number) => 2 * Math.cos(v) - v * Math.sin(v) + 6 * v;
      // Reverse over reverse: Σ f'(v) differentiated again gives the diagonal of the Hessian.
      const rr = run(() => grad((v: Tensor) => sum(grad(f)(v) as Tensor))(x));
      assertClose(rr, map(x, d2), { rtol: 1e-12, atol: 1e-12 });
      // Forward over reverse: a Hessian-vector product along ones.
      const [, hv] = run(() => jvp((v: Tensor) => grad(f)(v) as Tensor, [x], [tensor(new Float64Array(7).fill(1))]));
      assertClose(hv as Tensor, map(x, d2), { rtol: 1e-12, atol: 1e-12 });
      // The pass's own sums at the inner level hold the outer level's tracers: checked by finite differences.
      run(() => checkDerivatives((v: Tensor) => grad(f)(v) as Tensor, [x]));
    });
  });
}

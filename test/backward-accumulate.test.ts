/**
 * The backward pass adds further cotangents of a slot in place into a sum it created itself (engine.ts). These
 * tests build graphs where a wrongly shared buffer would change a gradient: a sum handed by add's rule to two
 * parents unchanged, fan-out before and after such a sum, broadcasting and subtraction, the caller's seeds, a
 * pullback called twice, and higher-order derivatives (traced cotangents). Each size runs below and above the
 * WebAssembly elementwise threshold (512 elements), on both kernel backends. A matrix product's rule may add a
 * weight's cotangent straight into such a sum (matmul's `vjpInto`): checked against hand-written backpropagation,
 * in the three product layouts, and at higher order where it must step aside.
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
  matmulNT,
  matmulTN,
  matrixTranspose,
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

    for (const d of [6, 40]) {
      test(`unrolled tanh(Wz + x): the weight's summed rank-1 cotangents have the hand-written backprop's value (d = ${d})`, () => {
        // From d = 32 the rank-1 updates run on the WebAssembly kernel (≥ 1024 entries); below, in TypeScript.
        const r = rng(d);
        const W = mul(randn(r, [d, d]), 0.5 / Math.sqrt(d));
        const x = randn(r, [d]);
        const c = randn(r, [d]);
        const T = 8;
        // z and Wᵀ used through matmul in all three layouts.
        const f = (Wm: Tensor, xv: Tensor) => {
          let z = tensor(new Float64Array(d));
          for (let t = 0; t < T; t++) {
            const Wz =
              t % 3 === 0
                ? matmul(Wm, z)
                : t % 3 === 1
                  ? matmulNT(z.reshape([1, d]), Wm).reshape([d])
                  : matmulTN(matrixTranspose(Wm), z.reshape([d, 1])).reshape([d]);
            z = tanh(add(Wz, xv));
          }
          return sum(mul(c, z));
        };
        const [gW, gx] = run(() => grad(f, { argnums: [0, 1] })(W, x) as Tensor[]);
        // By hand: z_{t+1} = tanh(W z_t + x); going back, s = g ⊙ (1 − z_{t+1}²), W̄ += s z_tᵀ, x̄ += s, g = Wᵀ s.
        const Wd = W.data;
        const zs = [new Float64Array(d)];
        for (let t = 0; t < T; t++) {
          const z = zs[t]!;
          zs.push(
            Float64Array.from({ length: d }, (_, i) => {
              let acc = x.data[i]!;
              for (let j = 0; j < d; j++) acc += Wd[i * d + j]! * z[j]!;
              return Math.tanh(acc);
            }),
          );
        }
        const eW = new Float64Array(d * d);
        const ex = new Float64Array(d);
        let g = c.data.slice();
        for (let t = T - 1; t >= 0; t--) {
          const s = g.map((v, i) => v * (1 - zs[t + 1]![i]! ** 2));
          for (let i = 0; i < d; i++) {
            ex[i] += s[i]!;
            for (let j = 0; j < d; j++) eW[i * d + j] += s[i]! * zs[t]![j]!;
          }
          g = Float64Array.from({ length: d }, (_, j) => {
            let acc = 0;
            for (let i = 0; i < d; i++) acc += Wd[i * d + j]! * s[i]!;
            return acc;
          });
        }
        assertClose(gW!, eW, { rtol: 1e-12, atol: 1e-14 });
        assertClose(gx!, ex, { rtol: 1e-12, atol: 1e-14 });
      });
    }

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

    for (const traced of ["operand", "cotangent"] as const) {
      test(`higher order: a product with a traced ${traced} is never added in as numbers`, () => {
        // Inside grad in x, the gradient in W of F first gets two concrete terms, (c + c₂) a₁ᵀ: a sum the inner
        // pass owns. Then 1 xᵀ (a concrete cotangent times a traced operand) or x a₂ᵀ (a traced cotangent).
        // Added into the owned sum as numbers, that term would lose its derivative in x.
        const r = rng(13);
        const d = 5;
        const W = randn(r, [d, d]);
        const [a1, a2, c, c2] = [0, 1, 2, 3].map(() => randn(r, [d]));
        const F = (Wm: Tensor, xv: Tensor) => {
          const last = traced === "operand" ? sum(matmul(Wm, xv)) : sum(mul(matmul(Wm, a2!), xv));
          const t1a = matmul(Wm, a1!);
          const t1b = matmul(Wm, a1!);
          return add(last, add(sum(mul(c!, t1a)), sum(mul(c2!, t1b))));
        };
        const gW = (xv: Tensor) => grad(F)(W, xv) as Tensor;
        const x = randn(r, [d]);
        // ∂F/∂W = (1 xᵀ or x a₂ᵀ) + (c + c₂) a₁ᵀ.
        const expected = Float64Array.from({ length: d * d }, (_, k) => {
          const [i, j] = [Math.floor(k / d), k % d];
          const term = traced === "operand" ? x.data[j]! : x.data[i]! * a2!.data[j]!;
          return term + (c!.data[i]! + c2!.data[i]!) * a1!.data[j]!;
        });
        assertClose(
          run(() => gW(x)),
          expected,
          { rtol: 1e-12, atol: 1e-12 },
        );
        run(() => checkDerivatives(gW, [x]));
      });
    }

    test("higher order through an unrolled matrix loop: the product's cotangents stay traced", () => {
      // The weight's cotangent sums hold tracers of the outer level; adding products into them as plain numbers
      // would drop the second derivative.
      const r = rng(11);
      const W = mul(randn(r, [4, 4]), 0.4);
      const x = randn(r, [4]);
      const f = (Wm: Tensor) => {
        let z = x;
        for (let t = 0; t < 4; t++) z = tanh(add(matmul(Wm, z), x));
        return sum(mul(z, z));
      };
      run(() => checkDerivatives((Wm: Tensor) => grad(f)(Wm) as Tensor, [W]));
    });
  });
}

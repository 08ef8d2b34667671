/**
 * Shared test utilities: a seeded RNG, closeness assertions and finite-difference derivative checks.
 */
import assert from "node:assert/strict";
import { GradCheckError, Tensor, checkGrads, tensor, jvp, vjp, type Shape } from "../src/index.js";

/** A small seeded PRNG (SplitMix32 → uniform floats) for deterministic test data. */
export function rng(seed: number): { uniform(lo?: number, hi?: number): number; normal(): number } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return (z + 0.5) / 4294967296;
  };
  return {
    uniform: (lo = 0, hi = 1) => lo + (hi - lo) * next(),
    normal: () => Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next()),
  };
}

/** A tensor of `shape` with uniform entries in [lo, hi). */
export function randTensor(r: ReturnType<typeof rng>, shape: Shape, lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = r.uniform(lo, hi);
  return tensor(d, shape);
}

/** A tensor of `shape` with standard normal entries. */
export function randn(r: ReturnType<typeof rng>, shape: Shape): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = r.normal();
  return tensor(d, shape);
}

type Numeric = Tensor | number | ArrayLike<number> | number[][];

function toFlat(x: Numeric): Float64Array {
  if (x instanceof Tensor) return x.data;
  if (typeof x === "number") return new Float64Array([x]);
  if (Array.isArray(x) && Array.isArray(x[0]))
    return Float64Array.from((x as number[][]).flat(Infinity as 1) as number[]);
  return Float64Array.from(x as ArrayLike<number>);
}

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise (and equal sizes / shapes for tensors).
 */
export function assertClose(
  actual: Numeric,
  expected: Numeric,
  opts: { rtol?: number; atol?: number } = {},
  msg = "",
): void {
  const rtol = opts.rtol ?? 1e-6;
  const atol = opts.atol ?? 1e-9;
  if (actual instanceof Tensor && expected instanceof Tensor) {
    assert.deepEqual([...actual.shape], [...expected.shape], `${msg} shape`);
  }
  const a = toFlat(actual);
  const e = toFlat(expected);
  assert.equal(a.length, e.length, `${msg} size ${a.length} vs ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - e[i]!);
    if (!(err <= atol + rtol * Math.abs(e[i]!))) {
      assert.fail(
        `${msg} element ${i}: ${a[i]} vs ${e[i]} (|diff| ${err.toExponential(2)}, rtol ${rtol}, atol ${atol})`,
      );
    }
  }
}

/**
 * Central finite-difference Jacobian of `f` at `x` with respect to argument `argnum`:
 * shape [outSize, inSize] as a flat row-major array.
 */
export function numericJacobian(f: (...xs: Tensor[]) => Tensor, xs: Tensor[], argnum = 0, eps = 1e-6): Float64Array {
  const x = xs[argnum]!;
  const at = (v: Float64Array) => {
    const args = [...xs];
    args[argnum] = tensor(v, x.shape);
    return f(...args).data;
  };
  const outSize = f(...xs).size;
  const J = new Float64Array(outSize * x.size);
  for (let j = 0; j < x.size; j++) {
    const p = x.data.slice();
    const m = x.data.slice();
    p[j]! += eps;
    m[j]! -= eps;
    const fp = at(p);
    const fm = at(m);
    for (let i = 0; i < outSize; i++) J[i * x.size + j] = (fp[i]! - fm[i]!) / (2 * eps);
  }
  return J;
}

/**
 * Checks `jacfwd` and `jacrev` of `f` with respect to every argument against central finite differences (by the
 * public `checkGrads`, which throws a `GradCheckError` naming the worst entry), and the adjoint identity
 * ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ between one `jvp` and one `vjp`.
 */
export function checkDerivatives(
  f: (...xs: Tensor[]) => Tensor,
  xs: Tensor[],
  opts: { rtol?: number; atol?: number; eps?: number; seed?: number } = {},
  msg = "",
): void {
  const r = rng(opts.seed ?? 7);
  try {
    checkGrads(f, xs, {
      rtol: opts.rtol ?? 1e-5,
      atol: opts.atol ?? 1e-6,
      eps: opts.eps ?? 1e-6,
      throwOnFailure: true,
    });
  } catch (e) {
    if (e instanceof GradCheckError) assert.fail(`${msg} ${e.message}`);
    throw e;
  }
  const out = f(...xs);
  const tangents = xs.map((x) => randn(r, x.shape));
  const u = randn(r, out.shape);
  const [, jv] = jvp(f, xs, tangents) as [Tensor, Tensor];
  const [, pullback] = vjp(f, ...xs);
  const jtu = pullback(u) as Tensor[];
  let lhs = 0;
  for (let i = 0; i < u.size; i++) lhs += u.data[i]! * jv.data[i]!;
  let rhs = 0;
  jtu.forEach((g, k) => {
    for (let i = 0; i < g.size; i++) rhs += g.data[i]! * tangents[k]!.data[i]!;
  });
  assertClose(lhs, rhs, { rtol: 1e-9, atol: 1e-9 }, `${msg} adjoint identity`);
}

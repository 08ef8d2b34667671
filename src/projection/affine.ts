/**
 * Projections onto affine sets and their relatives: `hyperplane`, `halfspace`, `affineSet`, `boxSection`.
 * @module
 */
import { DifferentiationError, ShapeError, ValueError } from "../core/errors.js";
import { add, div, maximum, minimum, mul, relu, square, sub } from "../core/ops/elementwise.js";
import { norm } from "../core/ops/norm.js";
import { broadcastTo } from "../core/ops/broadcast.js";
import { matmul, matrixTranspose, vdot } from "../core/ops/matmul.js";
import { sum } from "../core/ops/reduce.js";
import { reshape } from "../core/ops/shape.js";
import { broadcastShapes, fmt } from "../core/shape.js";
import { Tensor, sameShape, type TensorLike } from "../core/tensor.js";
import { checkOrdered, finiteTensor, requireShape, scalarParam } from "./checks.js";
import { elementNote, forEachElement } from "../core/element-values.js";
import { stack } from "../core/ops/join.js";
import { structuredCall, type StructuredOp } from "./local.js";
import { solve } from "../linalg/dense/lu.js";
import { magnitudeExponent, timesPowerOfTwo } from "../linalg/dense/kernels.js";

const anyNumber = (): boolean => true;

/**
 * The hyperplane {⟨a, y⟩ = b} as {⟨u, y⟩ = β} with the unit normal u = a/‖a‖ and β = b/‖a‖, ‖a‖ from the scaled
 * norm: the same set, but no ‖a‖² to overflow (|a| ≳ 1e155) or underflow (|a| ≲ 1e-155).
 */
function unitForm(a: Tensor, b: Tensor): { u: Tensor; beta: Tensor } {
  const length = norm(a);
  return { u: div(a, length), beta: div(b, length) };
}

/** Checks a normal vector `a` against `x` (same shape, not zero). */
function normalVector(a: TensorLike, x: Tensor, fn: string): Tensor {
  const t = finiteTensor(a, fn, "a");
  requireShape(t, x.shape, fn, "a", "the shape of x");
  if (t.raw.every((v) => v === 0)) throw new ValueError(`${fn}: a is zero, which defines no hyperplane`);
  return t;
}

/**
 * Projection onto the hyperplane {y : ⟨a, y⟩ = b}: x − ((⟨a, x⟩ − b)/‖a‖²) a, over the whole tensor, computed
 * with the unit normal a/‖a‖ (right at any scale of a). Differentiable in x, a and b.
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.hyperplane(tensor([1, 1]), tensor([1, 0]), 3).toArray(); // [3, 1]
 * ```
 */
export function hyperplane(x: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  const fn = "projection.hyperplane";
  const t = finiteTensor(x, fn, "x");
  const av = normalVector(a, t, fn);
  const bv = reshape(scalarParam(b, fn, "b", anyNumber, "finite"), []);
  const { u, beta } = unitForm(av, bv);
  return sub(t, mul(sub(vdot(u, t), beta), u));
}

/**
 * Projection onto the half-space {y : ⟨a, y⟩ ≤ b}: x − (max(⟨a, x⟩ − b, 0)/‖a‖²) a, over the whole tensor (with the
 * unit normal, as {@link hyperplane}). Differentiable in x, a and b (off the boundary).
 *
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.halfspace(tensor([5, 1]), tensor([1, 0]), 3).toArray(); // [3, 1]
 * projection.halfspace(tensor([1, 1]), tensor([1, 0]), 3).toArray(); // [1, 1]
 * ```
 */
export function halfspace(x: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  const fn = "projection.halfspace";
  const t = finiteTensor(x, fn, "x");
  const av = normalVector(a, t, fn);
  const bv = reshape(scalarParam(b, fn, "b", anyNumber, "finite"), []);
  const { u, beta } = unitForm(av, bv);
  return sub(t, mul(relu(sub(vdot(u, t), beta)), u));
}

/**
 * Projection onto the affine set {y : A y = b}: x − Aᵀ(AAᵀ)⁻¹(Ax − b), with a dense LU solve of AAᵀ
 * (`linalg.solve`; LU rather than Cholesky because its pivot test reliably rejects a singular AAᵀ). A must have full row rank (else a `LinearSolveError`). Differentiable in x, A and b.
 *
 * @param x - vector [n].
 * @param A - matrix [m, n], m ≤ n.
 * @param b - vector [m].
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.affineSet(tensor([1, 2, 3]), tensor([[1, 1, 1]]), tensor([3])).toArray(); // [0, 1, 2]
 * ```
 */
export function affineSet(x: TensorLike, A: TensorLike, b: TensorLike): Tensor {
  const fn = "projection.affineSet";
  const t = finiteTensor(x, fn, "x");
  const Am = finiteTensor(A, fn, "A");
  const bv = finiteTensor(b, fn, "b");
  if (t.ndim !== 1) throw new ShapeError(`${fn}: x must be a vector, got shape ${fmt(t.shape)}`);
  const n = t.shape[0]!;
  if (Am.ndim !== 2 || Am.shape[1] !== n) {
    throw new ShapeError(
      `${fn}: A must be a matrix [m, ${n}] to act on x of shape ${fmt(t.shape)}, got ${fmt(Am.shape)}`,
    );
  }
  requireShape(bv, [Am.shape[0]!], fn, "b", "one entry per row of A");
  const [As, bs] = equilibratedRows(Am, bv);
  const At = matrixTranspose(As);
  const residual = sub(matmul(As, t), bs);
  return sub(t, matmul(At, solve(matmul(As, At), residual)));
}

/**
 * AAᵀ squares the entries of A: when a row's largest entry lies beyond 2^±500, every row i of A and bᵢ are scaled
 * by an exact power of two bringing the row near 1, which leaves the set {y : Ay = b} unchanged. Otherwise A and b
 * are returned as they are (the fast path).
 */
function equilibratedRows(A: Tensor, b: Tensor): [Tensor, Tensor] {
  const [m, n] = A.shape as [number, number];
  const exponents = Array.from({ length: m }, (_, i) => magnitudeExponent(A.raw.subarray(i * n, (i + 1) * n)));
  if (exponents.every((e) => Math.abs(e) <= 500)) return [A, b];
  // Clamped so that the factor itself is a normal number (rows of subnormals still come within 2^±74 of 1).
  const factors = new Tensor(
    Float64Array.from(exponents, (e) => timesPowerOfTwo(1, -Math.max(-1000, Math.min(1000, e)))),
    [m],
  );
  return [mul(A, reshape(factors, [m, 1])), mul(b, factors)];
}

/** Which bound is active at each coordinate: 0 free, 1 at the lower bound, 2 at the upper bound. */
interface SectionStructure {
  state: Uint8Array;
}

const FREE = 0;
const AT_LOWER = 1;
const AT_UPPER = 2;

function clampValue(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** φ(τ) = Σ aᵢ clip(xᵢ − τ aᵢ, lᵢ, uᵢ): non-increasing in τ. */
function sectionValue(x: Float64Array, l: Float64Array, u: Float64Array, a: Float64Array, tau: number): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += a[i]! * clampValue(x[i]! - tau * a[i]!, l[i]!, u[i]!);
  return s;
}

/**
 * Finds τ with φ(τ) = b by bisection over the breakpoints of φ (where a coordinate enters or leaves a bound):
 * each step evaluates φ at a pseudo-randomly chosen remaining breakpoint and discards the breakpoints on the
 * wrong side, O(n) expected per step and no sort. Once no breakpoint is left between the brackets, φ is
 * linear there and τ is solved for exactly.
 */
function sectionDual(x: Float64Array, l: Float64Array, u: Float64Array, a: Float64Array, b: number): number {
  const n = x.length;
  let candidates = new Float64Array(2 * n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] !== 0) {
      candidates[count++] = (x[i]! - l[i]!) / a[i]!;
      candidates[count++] = (x[i]! - u[i]!) / a[i]!;
    }
  }
  let lo = -Infinity;
  let hi = Infinity;
  let seed = 0x2545f491;
  while (count > 0) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const pivot = candidates[seed % count]!;
    const value = sectionValue(x, l, u, a, pivot);
    if (value === b) return pivot;
    // φ is non-increasing: φ(pivot) > b puts the root to the right of the pivot.
    const right = value > b;
    if (right) lo = pivot;
    else hi = pivot;
    let kept = 0;
    for (let k = 0; k < count; k++) {
      const c = candidates[k]!;
      if (right ? c > pivot : c < pivot) candidates[kept++] = c;
    }
    count = kept;
    if (kept < candidates.length >> 2) candidates = candidates.slice(0, Math.max(kept, 1));
  }
  // No breakpoint in (lo, hi): the active set is fixed there, so solve the linear equation exactly.
  const probe = lo === -Infinity ? hi - 1 : hi === Infinity ? lo + 1 : 0.5 * (lo + hi);
  let num = -b;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i]! - probe * a[i]!;
    if (v <= l[i]!) num += a[i]! * l[i]!;
    else if (v >= u[i]!) num += a[i]! * u[i]!;
    else {
      num += a[i]! * x[i]!;
      den += a[i]! * a[i]!;
    }
  }
  if (den > 0) return num / den;
  return Number.isFinite(lo) ? lo : hi;
}

const boxSectionOp: StructuredOp<SectionStructure> = {
  name: "projection.boxSection",
  compute([x, l, u, a, b]) {
    const tau = sectionDual(x!.raw, l!.raw, u!.raw, a!.raw, b!.raw[0]!);
    const n = x!.size;
    const out = new Float64Array(n);
    const state = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = x!.raw[i]! - tau * a!.raw[i]!;
      const lo = l!.raw[i]!;
      const hi = u!.raw[i]!;
      if (v <= lo) {
        out[i] = lo;
        state[i] = AT_LOWER;
      } else if (v >= hi) {
        out[i] = hi;
        state[i] = AT_UPPER;
      } else {
        out[i] = v;
        state[i] = FREE;
      }
    }
    return { outs: [new Tensor(out, x!.shape)], structure: { state } };
  },
  local([x, l, u, a, b], { state }) {
    const mask = (s: number) =>
      new Tensor(
        Float64Array.from(state, (v) => (v === s ? 1 : 0)),
        x!.shape,
      );
    const free = mask(FREE);
    const atLower = mask(AT_LOWER);
    const atUpper = mask(AT_UPPER);
    const den = sum(mul(free, square(a!)));
    if (den.raw[0] === 0) {
      throw new DifferentiationError(
        "projection.boxSection: no coordinate is strictly inside the box, so the projection is not differentiable here",
      );
    }
    const fixed = add(sum(mul(atLower, mul(a!, l!))), sum(mul(atUpper, mul(a!, u!))));
    const tau = div(sub(add(sum(mul(free, mul(a!, x!))), fixed), reshape(b!, [])), den);
    return [add(mul(free, sub(x!, mul(tau, a!))), add(mul(atLower, l!), mul(atUpper, u!)))];
  },
};

/**
 * Projection onto a box section {y : lower ≤ y ≤ upper, ⟨a, y⟩ = b}, over the whole tensor. The solution is
 * y = clip(x − τa, lower, upper) where the dual variable τ solves the monotone 1-D equation ⟨a, y(τ)⟩ = b,
 * found by bisection over its breakpoints (O(n) expected per step, no sort) and then exactly on the final
 * linear piece. Derivatives (in x, the bounds, a and b) come from implicit differentiation of that root with
 * the active set held fixed.
 *
 * @param lower - lower bounds, broadcast to the shape of x.
 * @param upper - upper bounds, broadcast to the shape of x (lower ≤ upper).
 * @param a - the normal, same shape as x, not zero.
 * @param b - the offset: must lie between the minimum and maximum of ⟨a, y⟩ over the box (else `ValueError`).
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * // the capped simplex {0 ≤ y ≤ 0.5, Σ y = 1}
 * projection.boxSection(tensor([0.9, 0.3, 0.1]), 0, 0.5, tensor([1, 1, 1]), 1).toArray(); // [0.5, 0.35, 0.15]
 * ```
 */
export function boxSection(x: TensorLike, lower: TensorLike, upper: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  const fn = "projection.boxSection";
  const t = finiteTensor(x, fn, "x");
  const bounds = (
    [
      ["lower", lower],
      ["upper", upper],
    ] as const
  ).map(([name, v]) => {
    const bt = finiteTensor(v, fn, name);
    if (!sameShape(broadcastShapes(bt.shape, t.shape, fn), t.shape)) {
      throw new ShapeError(
        `${fn}: ${name} of shape ${fmt(bt.shape)} does not broadcast to the shape ${fmt(t.shape)} of x`,
      );
    }
    return broadcastTo(bt, t.shape);
  });
  const [lo, hi] = bounds as [Tensor, Tensor];
  const av = normalVector(a, t, fn);
  const bv = scalarParam(b, fn, "b", anyNumber, "finite");
  checkOrdered(lo, hi, t.shape, fn);
  // ⟨a, y⟩ over the box spans [Σ min(aᵢlᵢ, aᵢuᵢ), Σ max(aᵢlᵢ, aᵢuᵢ)]; b must lie in it (per element under vmap).
  const [al, au] = [mul(av, lo), mul(av, hi)];
  const range = stack([sum(minimum(al, au)), sum(maximum(al, au)), reshape(bv, [])]);
  forEachElement(range, ([minV, maxV, target], e) => {
    const slack = 1e-12 * Math.max(1, Math.abs(minV!), Math.abs(maxV!));
    if (target! < minV! - slack || target! > maxV! + slack) {
      throw new ValueError(
        `${fn}: the section is empty: ⟨a, y⟩ ranges over [${minV}, ${maxV}] on the box but b = ${target}${elementNote(e)}`,
      );
    }
  });
  return structuredCall(boxSectionOp, [t, lo, hi, av, bv])[0]!;
}

/**
 * Euclidean projection onto a transportation polytope U(a, b) = {P ≥ 0 : P1 = a, Pᵀ1 = b}:
 * P = argmin ½‖P − Y‖² over U(a, b), exactly (to rounding), with exact derivatives.
 *
 * Value. The dual of the projection is the smooth concave maximisation over potentials (f, g) of
 * ⟨f, a⟩ + ⟨g, b⟩ − ½‖relu(Y + f ⊕ g)‖², with P = relu(Y + f ⊕ g), (f ⊕ g)ᵢⱼ = fᵢ + gⱼ. Maximising over f
 * with g fixed projects each row of Y + 1gᵀ onto the simplex of mass aᵢ (one threshold per row), and likewise
 * for the columns, so block coordinate ascent alternates row and column thresholds: a "Euclidean Sinkhorn".
 * It identifies the support S of P after a few sweeps; then P is affine in (Y, a, b) on S, and solving that
 * linear system directly ("polishing") gives the exact projection as soon as it satisfies the KKT conditions
 * (P ≥ 0 on S, Y + f ⊕ g ≤ 0 off S), which is checked, not assumed (the potentials' offsets between connected
 * components of the support, which the linear system leaves free, are taken from the dual iterate).
 *
 * Derivatives. With the support fixed, (f, g) solve L[f; g] = [a − rowsum(Y∘M); b − colsum(Y∘M)] with M the
 * support mask and L = [[diag(M1), M], [Mᵀ, diag(Mᵀ1)]] (singular: the potentials are defined up to adding c
 * to f and −c to g on each connected block of the support, which leaves P unchanged), so
 * P = M ∘ (Y + f ⊕ g) with [f; g] = L⁺[…]. That closed form, with L⁺ computed once, is affine in (Y, a, b):
 * its derivatives are exact, and second derivatives are exactly zero, wherever the support is locally constant
 * (the pattern of `local.ts`).
 * @module
 */
import { ValueError } from "../core/errors.js";
import { add, mul, sub } from "../core/ops/elementwise.js";
import { matmul } from "../core/ops/matmul.js";
import { sum } from "../core/ops/reduce.js";
import { concatenate, split } from "../core/ops/join.js";
import { reshape } from "../core/ops/shape.js";
import { Tensor } from "../core/tensor.js";
import { pinv } from "../linalg/dense/lstsq.js";
import { structuredCall, type StructuredOp } from "./local.js";

/** The support of the plan and the pseudo-inverse of its system matrix L. */
interface Support {
  mask: Tensor;
  Lpinv: Tensor;
}

/** τ such that Σⱼ relu(v[off + j·stride] − τ) = s (s > 0), for the n entries of a row or column. */
function threshold(v: Float64Array, off: number, stride: number, n: number, s: number, scratch: Float64Array): number {
  for (let j = 0; j < n; j++) scratch[j] = v[off + j * stride]!;
  const sorted = scratch.subarray(0, n).sort().reverse();
  let acc = 0;
  let tau = 0;
  for (let k = 0; k < n; k++) {
    acc += sorted[k]!;
    const t = (acc - s) / (k + 1);
    if (k + 1 === n || sorted[k + 1]! <= t) {
      tau = t;
      break;
    }
  }
  return tau;
}

/** The pseudo-inverse of L for the support mask (n × m). */
function systemPinv(mask: Float64Array, n: number, m: number): Tensor {
  const N = n + m;
  const L = new Float64Array(N * N);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      if (mask[i * m + j] === 0) continue;
      L[i * N + i]! += 1;
      L[(n + j) * N + n + j]! += 1;
      L[i * N + n + j] = 1;
      L[(n + j) * N + i] = 1;
    }
  return pinv(new Tensor(L, [N, N]));
}

/** The potentials [f, g] = L⁺[a − rowsum(Y∘M); b − colsum(Y∘M)] of the support, with ops. */
function potentials(Y: Tensor, a: Tensor, b: Tensor, { mask, Lpinv }: Support): [Tensor, Tensor] {
  const YM = mul(Y, mask);
  const rhs = concatenate([sub(a, sum(YM, { axis: 1 })), sub(b, sum(YM, { axis: 0 }))]);
  return split(matmul(Lpinv, rhs), [Y.shape[0]!]) as [Tensor, Tensor];
}

/** The plan M ∘ (Y + f ⊕ g) of the support, with ops. */
function planOf(Y: Tensor, a: Tensor, b: Tensor, support: Support): Tensor {
  const [n, m] = Y.shape as [number, number];
  const [f, g] = potentials(Y, a, b, support);
  return mul(support.mask, add(Y, add(reshape(f, [n, 1]), reshape(g, [1, m]))));
}

/** The connected component of every row (0..n−1) and column (n..n+m−1) node of the support's bipartite graph. */
function components(mask: Float64Array, n: number, m: number): Int32Array {
  const parent = Int32Array.from({ length: n + m }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) if (mask[i * m + j] === 1) parent[find(i)] = find(n + j);
  return Int32Array.from({ length: n + m }, (_, i) => find(i));
}

/** A support's exact plan, its potentials and the components on which they are defined up to a shift. */
interface Polished {
  key: string;
  support: Support;
  P: Float64Array;
  f: Float64Array;
  g: Float64Array;
  component: Int32Array;
}

function polish(Y: Tensor, a: Tensor, b: Tensor, maskData: Float64Array, key: string): Polished {
  const [n, m] = Y.shape as [number, number];
  const support = { mask: new Tensor(maskData, [n, m]), Lpinv: systemPinv(maskData, n, m) };
  const [f, g] = potentials(Y, a, b, support);
  const P = planOf(Y, a, b, support).raw;
  return { key, support, P, f: f.raw, g: g.raw, component: components(maskData, n, m) };
}

/**
 * Y + f ⊕ g for the polished potentials, each component shifted (f + c, g − c, which leaves its plan unchanged) to
 * agree on average with the dual iterate (fIt, gIt): the support fixes the potentials within a component, the dual
 * iterate supplies the offsets between components that the complementarity conditions off the support need.
 */
function alignedSlack(p: Polished, Y: Float64Array, fIt: Float64Array, gIt: Float64Array): Float64Array {
  const n = fIt.length;
  const m = gIt.length;
  const shift = new Float64Array(n + m);
  const count = new Float64Array(n + m);
  // Row nodes want f + c ≈ fIt, column nodes g − c ≈ gIt.
  for (let k = 0; k < n + m; k++) {
    const c = p.component[k]!;
    shift[c]! += k < n ? fIt[k]! - p.f[k]! : p.g[k - n]! - gIt[k - n]!;
    count[c]!++;
  }
  const Z = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ci = p.component[i]!;
    for (let j = 0; j < m; j++) {
      const cj = p.component[n + j]!;
      Z[i * m + j] = Y[i * m + j]! + p.f[i]! + shift[ci]! / count[ci]! + p.g[j]! - shift[cj]! / count[cj]!;
    }
  }
  return Z;
}

/** Checks the KKT conditions of a candidate plan: feasible, non-negative, complementary. */
function kktHolds(P: Float64Array, Z: Float64Array, a: Float64Array, b: Float64Array, n: number, m: number): boolean {
  let scale = 0;
  for (let i = 0; i < n * m; i++) scale = Math.max(scale, Math.abs(Z[i]!));
  for (let i = 0; i < n; i++) scale = Math.max(scale, a[i]!);
  const slack = 1e-12 * scale;
  for (let i = 0; i < n * m; i++) if (Z[i]! > slack && P[i] === 0) return false;
  for (let i = 0; i < n * m; i++) if (P[i]! < -slack) return false;
  const rows = new Float64Array(n);
  const cols = new Float64Array(m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      rows[i]! += P[i * m + j]!;
      cols[j]! += P[i * m + j]!;
    }
  for (let i = 0; i < n; i++) if (Math.abs(rows[i]! - a[i]!) > slack * m) return false;
  for (let j = 0; j < m; j++) if (Math.abs(cols[j]! - b[j]!) > slack * n) return false;
  return true;
}

/** Block coordinate ascent on the dual, polished on the identified support; throws after `maxIter` sweeps. */
function euclideanKernel(
  Y: Tensor,
  a: Tensor,
  b: Tensor,
  maxIter: number,
  who: string,
): { P: Tensor; support: Support } {
  const [n, m] = Y.shape as [number, number];
  const y = Y.raw;
  const f = new Float64Array(n);
  const g = new Float64Array(m);
  const Z = new Float64Array(n * m);
  const scratch = new Float64Array(Math.max(n, m));
  let lastMask = "";
  let polished: Polished | null = null;
  let stable = 0;
  let patience = 1;
  for (let sweep = 1; sweep <= maxIter; sweep++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) Z[i * m + j] = y[i * m + j]! + g[j]!;
      f[i] = -threshold(Z, i * m, 1, m, a.raw[i]!, scratch);
    }
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < n; i++) Z[i * m + j] = y[i * m + j]! + f[i]!;
      g[j] = -threshold(Z, j, m, n, b.raw[j]!, scratch);
    }
    const maskData = new Float64Array(n * m);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < m; j++) maskData[i * m + j] = y[i * m + j]! + f[i]! + g[j]! > 0 ? 1 : 0;
    const key = maskData.join("");
    // Polish once the support has stopped changing between sweeps (the plan of a support is computed once).
    stable = key === lastMask ? stable + 1 : 0;
    // A support that failed doubles the stability asked of the next one (each polish costs a pseudo-inverse).
    if (stable >= patience && (polished === null || polished.key !== key)) {
      if (polished !== null) patience *= 2;
      polished = polish(Y, a, b, maskData, key);
    }
    const current: Polished | null = polished;
    if (current !== null && current.key === key) {
      if (kktHolds(current.P, alignedSlack(current, y, f, g), a.raw, b.raw, n, m)) {
        // Rounding may leave −1e-17 on the support: the plan returned is exactly non-negative.
        const P = current.P.map((v) => Math.max(v, 0));
        return { P: new Tensor(P, [n, m]), support: current.support };
      }
    }
    lastMask = key;
  }
  throw new ValueError(
    `${who}: the Euclidean projection did not identify its support in ${maxIter} sweeps; raise maxIter`,
  );
}

/**
 * @internal The Euclidean projection of Y (n × m) onto U(a, b), differentiable in Y, a and b to any order (the
 * derivatives of the affine closed form on the support).
 */
export function euclideanTransport(Y: Tensor, a: Tensor, b: Tensor, maxIter: number, who: string): Tensor {
  const op: StructuredOp<Support> = {
    name: who,
    compute([y, av, bv]) {
      const { P, support } = euclideanKernel(y!, av!, bv!, maxIter, who);
      return { outs: [P], structure: support };
    },
    local([y, av, bv], support) {
      return [planOf(y!, av!, bv!, support)];
    },
  };
  return structuredCall(op, [Y, a, b])[0]!;
}

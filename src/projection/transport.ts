/**
 * Entropic projections onto transportation polytopes, by Sinkhorn iterations in the log domain, with exact
 * implicit derivatives; the Euclidean ones (`geometry: "euclidean"`) are in `transport-euclidean.ts`.
 *
 * For a cost C (n×m), marginals a (n) and b (m) with Σa = Σb and ε > 0, the entropic transport plan
 * P = argmin {⟨P, C⟩ + ε Σ Pᵢⱼ(log Pᵢⱼ − 1) : P1 = a, Pᵀ1 = b} is Pᵢⱼ = exp((fᵢ + gⱼ − Cᵢⱼ)/ε), where the
 * dual potentials solve the fixed point of the Sinkhorn map
 *   g(f)ⱼ = ε log bⱼ − ε LSEᵢ((fᵢ − Cᵢⱼ)/ε),   T(f)ᵢ = ε log aᵢ − ε LSEⱼ((g(f)ⱼ − Cᵢⱼ)/ε).
 * T commutes with adding a constant, so ∂T has the eigenvalue 1 on the constant vector; we fix the gauge with
 * T̃(f) = T(f) − mean(T(f)), whose fixed point (the potential with mean 0) is unique and for which I − ∂T̃ is
 * invertible. The derivatives of f* in (C, a, b, ε) are those of the implicit function theorem,
 * (I − ∂_f T̃) ḟ = ∂_θ T̃ θ̇, given by `customFixedPoint` on T̃ (written with ops, so second derivatives are exact
 * too); the solver itself is never differentiated. P is then an ordinary differentiable function of f*.
 * @module
 */
import { ShapeError, ValueError } from "../core/errors.js";
import { add, div, exp, log, mul, sub } from "../core/ops/elementwise.js";
import { mean } from "../core/ops/reduce.js";
import { reshape } from "../core/ops/shape.js";
import { logsumexp } from "../core/ops/softmax.js";
import { fmt } from "../core/shape.js";
import { Tensor, ones, zeros, type TensorLike } from "../core/tensor.js";
import { customFixedPoint } from "../implicit/root.js";
import { checkValues, finiteTensor, positive, scalarParam } from "./checks.js";
import { euclideanTransport } from "./transport-euclidean.js";

/** Options of {@link transport} and {@link birkhoff}. */
export interface SinkhornOptions {
  /**
   * The regulariser (default `"entropic"`): −ε·entropy(P), solved by Sinkhorn; or `"euclidean"`: (ε/2)‖P‖², i.e.
   * the Euclidean projection of −cost/ε (of X/ε for `birkhoff`) onto the polytope, solved exactly (to rounding)
   * by dual block coordinate ascent polished on the support, whose plans are sparse.
   */
  geometry?: "entropic" | "euclidean";
  /**
   * Entropic regularisation ε > 0 (default 1). Smaller is closer to the unregularised problem but Sinkhorn
   * converges more slowly: its contraction rate degrades like exp(−spread/ε), spread being the range of the
   * cost's cross differences Cᵢⱼ + Cₖₗ − Cᵢₗ − Cₖⱼ, so scale the cost or raise `maxIter` accordingly.
   */
  epsilon?: TensorLike;
  /** Maximum number of Sinkhorn iterations, or of dual sweeps with the Euclidean geometry (default 10000). */
  maxIter?: number;
  /** Entropic: stop when Σⱼ|(Pᵀ1)ⱼ − bⱼ| ≤ tol·Σb (default 1e-12); the Euclidean projection is exact. */
  tol?: number;
}

/** g(f) = ε log b − ε LSEᵢ((fᵢ − Cᵢⱼ)/ε), with ops. */
function columnPotential(f: Tensor, C: Tensor, b: Tensor, eps: Tensor): Tensor {
  const z = div(sub(reshape(f, [f.size, 1]), C), eps);
  return mul(eps, sub(log(b), logsumexp(z, { axis: 0 })));
}

/** The gauge-fixed Sinkhorn map T̃(f) = T(f) − mean(T(f)), with ops. */
function sinkhornMap(f: Tensor, C: Tensor, a: Tensor, b: Tensor, eps: Tensor): Tensor {
  const g = columnPotential(f, C, b, eps);
  const z = div(sub(reshape(g, [1, g.size]), C), eps);
  const t = mul(eps, sub(log(a), logsumexp(z, { axis: 1 })));
  return sub(t, mean(t));
}

/** Log-domain Sinkhorn on plain arrays: the potential f with mean 0. */
function sinkhornKernel(
  C: Tensor,
  a: Tensor,
  b: Tensor,
  eps: number,
  maxIter: number,
  tol: number,
  who: string,
): Float64Array {
  const [n, m] = C.shape as [number, number];
  const c = C.raw;
  const f = new Float64Array(n);
  const g = new Float64Array(m);
  const logA = Float64Array.from(a.raw, Math.log);
  const logB = Float64Array.from(b.raw, Math.log);
  let mass = 0;
  for (let j = 0; j < m; j++) mass += b.raw[j]!;
  const colSum = new Float64Array(m);
  for (let it = 0; it < maxIter; it++) {
    for (let j = 0; j < m; j++) {
      let mx = -Infinity;
      for (let i = 0; i < n; i++) mx = Math.max(mx, (f[i]! - c[i * m + j]!) / eps);
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.exp((f[i]! - c[i * m + j]!) / eps - mx);
      g[j] = eps * (logB[j]! - mx - Math.log(s));
    }
    colSum.fill(0);
    for (let i = 0; i < n; i++) {
      const row = i * m;
      let mx = -Infinity;
      for (let j = 0; j < m; j++) mx = Math.max(mx, (g[j]! - c[row + j]!) / eps);
      let s = 0;
      for (let j = 0; j < m; j++) s += Math.exp((g[j]! - c[row + j]!) / eps - mx);
      f[i] = eps * (logA[i]! - mx - Math.log(s));
      for (let j = 0; j < m; j++) colSum[j]! += Math.exp((f[i]! + g[j]! - c[row + j]!) / eps);
    }
    let err = 0;
    for (let j = 0; j < m; j++) err += Math.abs(colSum[j]! - b.raw[j]!);
    if (!Number.isFinite(err))
      throw new ValueError(`${who}: Sinkhorn diverged (non-finite potentials); check the cost and epsilon`);
    if (err <= tol * mass) {
      let shift = 0;
      for (let i = 0; i < n; i++) shift += f[i]!;
      shift /= n;
      for (let i = 0; i < n; i++) f[i]! -= shift;
      return f;
    }
  }
  throw new ValueError(
    `${who}: Sinkhorn did not reach tol ${tol} in ${maxIter} iterations; increase maxIter or epsilon (now ${eps})`,
  );
}

/** The Sinkhorn solver made differentiable by implicit differentiation of T̃, one per (maxIter, tol, caller). */
const layers = new Map<string, (init: Tensor, C: Tensor, a: Tensor, b: Tensor, eps: Tensor) => Tensor>();

function potentialLayer(maxIter: number, tol: number, who: string) {
  const key = `${who}|${maxIter}|${tol}`;
  let layer = layers.get(key);
  if (layer === undefined) {
    const solver = (_init: Tensor, C: Tensor, a: Tensor, b: Tensor, eps: Tensor): Tensor =>
      new Tensor(sinkhornKernel(C, a, b, eps.raw[0]!, maxIter, tol, who), [C.shape[0]!]);
    layer = customFixedPoint(sinkhornMap)(solver) as unknown as typeof solver;
    layers.set(key, layer);
  }
  return layer;
}

/** The plan of the chosen geometry for cost C, marginals a, b. */
function plan(C: Tensor, a: Tensor, b: Tensor, opts: SinkhornOptions, who: string): Tensor {
  const eps = reshape(scalarParam(opts.epsilon ?? 1, who, "epsilon", positive, "positive"), []);
  const maxIter = opts.maxIter ?? 10000;
  const tol = opts.tol ?? 1e-12;
  if (!Number.isInteger(maxIter) || maxIter < 1)
    throw new ValueError(`${who}: maxIter must be a positive integer, got ${maxIter}`);
  if (!(tol > 0)) throw new ValueError(`${who}: tol must be positive, got ${tol}`);
  const geometry = opts.geometry ?? "entropic";
  if (geometry === "euclidean") return euclideanTransport(div(C, mul(eps, -1)), a, b, maxIter, who);
  if (geometry !== "entropic")
    throw new ValueError(`${who}: geometry must be "entropic" or "euclidean", got ${String(geometry)}`);
  const f = potentialLayer(maxIter, tol, who)(zeros([C.shape[0]!]), C, a, b, eps);
  const g = columnPotential(f, C, b, eps);
  return exp(div(sub(add(reshape(f, [f.size, 1]), reshape(g, [1, g.size])), C), eps));
}

/**
 * Entropic optimal transport: the plan P ≥ 0 with row sums a and column sums b minimising ⟨P, cost⟩ −
 * ε·entropy(P), i.e. the KL projection of exp(−cost/ε) onto the transportation polytope. Computed by
 * log-domain Sinkhorn; differentiable in cost, a, b and ε by implicit differentiation of the Sinkhorn fixed
 * point (`customFixedPoint`; the backward system is n×n).
 *
 * @param cost - matrix [n, m].
 * @param a - positive row marginals [n]; b - positive column marginals [m], with Σa = Σb.
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * const P = projection.transport(tensor([[0, 1], [1, 0]]), tensor([0.5, 0.5]), tensor([0.5, 0.5]), { epsilon: 1 });
 * P.toArray(); // [[0.3655…, 0.1344…], [0.1344…, 0.3655…]]
 * // the Euclidean geometry: a sparse plan
 * projection.transport(tensor([[0, 1], [1, 0]]), tensor([0.5, 0.5]), tensor([0.5, 0.5]), { geometry: "euclidean" }).toArray(); // [[0.5, 0], [0, 0.5]]
 * ```
 */
export function transport(cost: TensorLike, a: TensorLike, b: TensorLike, opts: SinkhornOptions = {}): Tensor {
  const fn = "projection.transport";
  const C = finiteTensor(cost, fn, "cost");
  if (C.ndim !== 2 || C.size === 0)
    throw new ShapeError(`${fn}: cost must be a non-empty matrix, got shape ${fmt(C.shape)}`);
  const [n, m] = C.shape as [number, number];
  const av = checkValues(finiteTensor(a, fn, "a"), fn, "a", positive, "positive");
  const bv = checkValues(finiteTensor(b, fn, "b"), fn, "b", positive, "positive");
  if (av.ndim !== 1 || av.size !== n)
    throw new ShapeError(`${fn}: a must have shape [${n}] (rows of cost), got ${fmt(av.shape)}`);
  if (bv.ndim !== 1 || bv.size !== m)
    throw new ShapeError(`${fn}: b must have shape [${m}] (columns of cost), got ${fmt(bv.shape)}`);
  const sa = av.raw.reduce((s, v) => s + v, 0);
  const sb = bv.raw.reduce((s, v) => s + v, 0);
  if (Math.abs(sa - sb) > 1e-10 * Math.max(sa, sb)) {
    throw new ValueError(`${fn}: the marginals must have equal mass, got Σa = ${sa} and Σb = ${sb}`);
  }
  return plan(C, av, bv, opts, fn);
}

/**
 * Entropic projection onto the Birkhoff polytope (doubly stochastic matrices): the matrix P with unit row and
 * column sums maximising ⟨P, X⟩ + ε·entropy(P), i.e. Sinkhorn's normalisation of exp(X/ε). Differentiable in X
 * and ε by implicit differentiation, as {@link transport}.
 *
 * @param X - a square matrix [n, n] of scores.
 * @example
 * ```ts
 * import { projection, tensor, sum } from "diffopt";
 * const P = projection.birkhoff(tensor([[2, 0, 1], [0, 1, 0], [1, 0, 3]]), { epsilon: 0.5 });
 * sum(P, { axis: 0 }).toArray(); // [1, 1, 1]
 * // the Euclidean projection of X onto the doubly stochastic matrices
 * projection.birkhoff(tensor([[1, 0], [0, 0]]), { geometry: "euclidean" }).toArray(); // [[0.75, 0.25], [0.25, 0.75]]
 * ```
 */
export function birkhoff(X: TensorLike, opts: SinkhornOptions = {}): Tensor {
  const fn = "projection.birkhoff";
  const t = finiteTensor(X, fn, "X");
  if (t.ndim !== 2 || t.shape[0] !== t.shape[1] || t.size === 0) {
    throw new ShapeError(`${fn}: X must be a non-empty square matrix, got shape ${fmt(t.shape)}`);
  }
  const u = ones([t.shape[0]!]);
  return plan(mul(t, -1), u, u, opts, fn);
}

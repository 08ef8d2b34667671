/**
 * Line searches on plain values: backtracking (Armijo) and Wolfe / strong Wolfe with zoom. They choose a step
 * size t along a direction p from x; solvers call them on untraced values and then take the step with
 * differentiable ops, so in unrolled mode the chosen step is a constant of the derivative.
 * @module
 */
import { ValueError } from "../core/errors.js";
import { stopGradient } from "../core/transforms.js";
import { describeValue } from "../core/tensor.js";
import { add, flatten, flattenLike, norm, scale, vdot, type Tree } from "../core/tree.js";

/** The function a line search explores: its value, and its value with gradient, at a point (plain values). */
export interface LineSearchFunction {
  /** f(x) as a number. */
  value(x: Tree): number;
  /** [f(x), ∇f(x)]. */
  valueAndGrad(x: Tree): [number, Tree];
}

/** What a line search returns. */
export interface LineSearchResult {
  /** The accepted step size t (the last one tried when `succeeded` is false). */
  stepsize: number;
  /** The new point x + t·p. */
  params: Tree;
  /** f at the new point. */
  value: number;
  /** ∇f at the new point. */
  grad: Tree;
  /** Number of evaluations of f (with or without gradient). */
  numEvals: number;
  /** Whether the conditions were met within the iteration cap. */
  succeeded: boolean;
}

/** Options of {@link backtrackingLineSearch}. */
export interface BacktrackingOptions {
  /** First step size tried (default 1). */
  initialStepsize?: number;
  /** Sufficient-decrease constant c₁ ∈ (0, 1) (default 1e-4). */
  c1?: number;
  /** Factor ∈ (0, 1) applied to the step after each rejection (default 0.5). */
  decreaseFactor?: number;
  /** Maximum number of trial steps (default 30). */
  maxIter?: number;
}

/** Options of {@link wolfeLineSearch}. */
export interface WolfeOptions {
  /** First step size tried (default 1). */
  initialStepsize?: number;
  /** Sufficient-decrease constant c₁ (default 1e-4). */
  c1?: number;
  /** Curvature constant c₂ ∈ (c₁, 1) (default 0.9). */
  c2?: number;
  /** Strong Wolfe |φ'(t)| ≤ c₂|φ'(0)| (default true) or weak φ'(t) ≥ c₂φ'(0). */
  strong?: boolean;
  /** Step interpolation in the zoom phase: safeguarded cubic (default) or bisection. */
  interpolation?: "cubic" | "bisection";
  /** Largest step size tried in the bracketing phase (default 1e10). */
  maxStepsize?: number;
  /** Maximum number of evaluations (default 50). */
  maxIter?: number;
}

function positiveNumber(v: number, fn: string, name: string, below1 = false): number {
  if (!(v > 0) || !Number.isFinite(v) || (below1 && !(v < 1))) {
    throw new ValueError(`${fn}: ${name} must be ${below1 ? "in (0, 1)" : "positive and finite"}, got ${v}`);
  }
  return v;
}

/**
 * φ'(0) = ⟨∇f(x), p⟩, required to be negative (a descent direction), after checking the inputs every line search
 * shares: a finite value, and a gradient and direction of the structure and shapes of x.
 */
function slopeAtZero(x: Tree, value: number, grad: Tree, direction: Tree, fn: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ValueError(`${fn}: value (f at x) must be a finite number, got ${describeValue(value)}`);
  }
  const [xLeaves, xDef] = flatten(x);
  flattenLike(grad, xDef, xLeaves, `${fn}: grad vs x`);
  flattenLike(direction, xDef, xLeaves, `${fn}: direction vs x`);
  const d = vdot(stopGradient(grad), stopGradient(direction)).item();
  if (!(d < 0)) {
    throw new ValueError(`${fn}: direction is not a descent direction: ⟨∇f(x), p⟩ = ${d} must be negative`);
  }
  return d;
}

/**
 * @internal Relative margin on the quadratic term of the upper-bound tests f(x⁺) ≤ f(x) + ⟨g, d⟩ + (L/2)‖d‖²
 * used by proximal and block backtracking: a quadratic whose curvature equals the tested L meets the bound with
 * equality, which rounding must not reject (that would double a correct L).
 */
export const LIPSCHITZ_MARGIN = 1e-8;

/**
 * @internal Whether `fNew ≤ bound` can be decided from values that carry the rounding error of f (slack
 * 16ε(|fOld| + |fNew|)): true or false when it can, null when the comparison is within rounding. Near a
 * minimiser the decrease a sufficient-decrease test demands falls below that error; callers then estimate the
 * decrease from gradients by the trapezoid rule f(x + d) − f(x) ≈ ⟨∇f(x) + ∇f(x + d), d⟩/2 (exact for
 * quadratics) instead of accepting or rejecting on noise. A NaN or +∞ `fNew` is decided: false.
 */
export function decideBelow(fNew: number, bound: number, fOld: number): boolean | null {
  // An overflowed or undefined value is never below: its slack would be infinite (or NaN), leaving the decision
  // to a trapezoid test on gradients that overflowed too — which can accept f = +∞ (a Gauss–Newton step on
  // Jennrich–Sampson, test/solvers-mgh.test.ts).
  if (Number.isNaN(fNew) || fNew === Infinity) return false;
  const slack = 16 * Number.EPSILON * (Math.abs(fOld) + Math.abs(fNew));
  if (fNew <= bound - slack) return true;
  if (fNew > bound + slack) return false;
  return null;
}

/**
 * @internal Rounding slack of an inner product ⟨a − b, d⟩ (or ⟨a, d⟩ + ⟨b, d⟩) of gradients a, b with a step d:
 * 64ε(‖a‖ + ‖b‖)‖d‖. The trapezoid tests accept within it: when even gradient differences are at rounding
 * level, the step is too small for any test to resolve.
 */
export function gradientSlack(a: Tree, b: Tree, d: Tree): number {
  const n = (t: Tree) => norm(stopGradient(t)).item();
  return 64 * Number.EPSILON * (n(a) + n(b)) * n(d);
}

function stepFrom(x: Tree, direction: Tree, t: number): Tree {
  return add(x, scale(t, direction));
}

/**
 * Backtracking line search: tries t = t₀, t₀β, t₀β², … until the Armijo condition
 * f(x + t p) ≤ f(x) + c₁ t ⟨∇f(x), p⟩ holds. When the two sides differ by less than the rounding error of f,
 * the decrease is estimated from the directional derivatives at both ends (trapezoid rule, one extra gradient),
 * so that the search keeps working near a minimiser. Evaluates only values while searching and one gradient at the
 * accepted point. Throws a `ValueError` if p is not a descent direction.
 *
 * @example
 * ```ts
 * import { backtrackingLineSearch, grad, sum, square, tensor, type Tensor } from "diffopt";
 * const f = (x: Tensor) => sum(square(x));
 * const fn = {
 *   value: (x: Tensor) => f(x).item(),
 *   valueAndGrad: (x: Tensor): [number, Tensor] => [f(x).item(), grad(f)(x)],
 * };
 * const x = tensor([1, 2]);
 * const g = grad(f)(x);
 * const r = backtrackingLineSearch(fn, x, f(x).item(), g, g.neg(), { initialStepsize: 1 });
 * console.log(r.stepsize, r.succeeded); // 0.5 true (the exact minimiser along -g)
 * ```
 */
export function backtrackingLineSearch(
  f: LineSearchFunction,
  x: Tree,
  value: number,
  grad: Tree,
  direction: Tree,
  opts: BacktrackingOptions = {},
): LineSearchResult {
  const fn = "backtrackingLineSearch";
  const c1 = positiveNumber(opts.c1 ?? 1e-4, fn, "c1", true);
  const beta = positiveNumber(opts.decreaseFactor ?? 0.5, fn, "decreaseFactor", true);
  let t = positiveNumber(opts.initialStepsize ?? 1, fn, "initialStepsize");
  const maxIter = opts.maxIter ?? 30;
  const x0 = stopGradient(x);
  const p = stopGradient(direction);
  const slope = slopeAtZero(x, value, grad, p, fn);
  let numEvals = 0;
  let succeeded = false;
  for (let i = 0; i < maxIter; i++) {
    const xt = stepFrom(x0, p, t);
    const v = f.value(xt);
    numEvals++;
    let ok = decideBelow(v, value + c1 * t * slope, value);
    if (ok === null) {
      const [, gt] = f.valueAndGrad(xt);
      numEvals++;
      ok = (slope + stopGradient(vdot(gt, p)).item()) / 2 <= c1 * slope + gradientSlack(grad, gt, p);
    }
    if (ok) {
      succeeded = true;
      break;
    }
    if (i + 1 < maxIter) t *= beta;
  }
  const params = stepFrom(x0, p, t);
  const [v, g] = f.valueAndGrad(params);
  return { stepsize: t, params, value: v, grad: g, numEvals: numEvals + 1, succeeded };
}

interface Probe {
  t: number;
  value: number;
  slope: number;
  params: Tree;
  grad: Tree;
}

/** Minimiser of the cubic through (a, fa, ga), (b, fb, gb), or NaN when it does not exist. */
function cubicMinimizer(a: Probe, b: Probe): number {
  const d1 = a.slope + b.slope - (3 * (a.value - b.value)) / (a.t - b.t);
  const disc = d1 * d1 - a.slope * b.slope;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b.t - a.t) * Math.sqrt(disc);
  return b.t - ((b.t - a.t) * (b.slope + d2 - d1)) / (b.slope - a.slope + 2 * d2);
}

/**
 * Wolfe line search (Nocedal & Wright, Algorithms 3.5–3.6): brackets a step by growing t, then zooms with
 * safeguarded cubic interpolation (or bisection) until the sufficient-decrease condition
 * f(x + t p) ≤ f(x) + c₁ t ⟨∇f(x), p⟩ (decided by the trapezoid rule on directional derivatives when the values
 * differ by less than their rounding error) and the curvature condition hold — strong |⟨∇f(x + t p), p⟩| ≤ c₂|⟨∇f(x), p⟩|
 * by default, weak ⟨∇f(x + t p), p⟩ ≥ c₂⟨∇f(x), p⟩ with `strong: false`. Throws a `ValueError` if p is not a
 * descent direction.
 *
 * @example
 * ```ts
 * import { wolfeLineSearch, grad, sum, square, tensor, type Tensor } from "diffopt";
 * const f = (x: Tensor) => sum(square(x));
 * const fn = {
 *   value: (x: Tensor) => f(x).item(),
 *   valueAndGrad: (x: Tensor): [number, Tensor] => [f(x).item(), grad(f)(x)],
 * };
 * const x = tensor([1, 2]);
 * const g = grad(f)(x);
 * wolfeLineSearch(fn, x, f(x).item(), g, g.neg()).succeeded; // true
 * ```
 */
export function wolfeLineSearch(
  f: LineSearchFunction,
  x: Tree,
  value: number,
  grad: Tree,
  direction: Tree,
  opts: WolfeOptions = {},
): LineSearchResult {
  const fn = "wolfeLineSearch";
  const c1 = positiveNumber(opts.c1 ?? 1e-4, fn, "c1", true);
  const c2 = positiveNumber(opts.c2 ?? 0.9, fn, "c2", true);
  if (!(c1 < c2)) throw new ValueError(`${fn}: need c1 < c2, got c1 = ${c1}, c2 = ${c2}`);
  const strong = opts.strong ?? true;
  const cubic = (opts.interpolation ?? "cubic") === "cubic";
  const maxStep = positiveNumber(opts.maxStepsize ?? 1e10, fn, "maxStepsize");
  const maxIter = opts.maxIter ?? 50;
  const x0 = stopGradient(x);
  const p = stopGradient(direction);
  const slope0 = slopeAtZero(x, value, grad, p, fn);
  let numEvals = 0;
  const probe = (t: number): Probe => {
    const params = stepFrom(x0, p, t);
    const [v, g] = f.valueAndGrad(params);
    numEvals++;
    return { t, value: v, slope: stopGradient(vdot(g, p)).item(), params, grad: g };
  };
  const sufficient = (q: Probe) =>
    decideBelow(q.value, value + c1 * q.t * slope0, value) ??
    (slope0 + q.slope) / 2 <= c1 * slope0 + gradientSlack(grad, q.grad, p);
  const curvature = (q: Probe) => (strong ? Math.abs(q.slope) <= -c2 * slope0 : q.slope >= c2 * slope0);
  const result = (q: Probe, succeeded: boolean): LineSearchResult => ({
    stepsize: q.t,
    params: q.params,
    value: q.value,
    grad: q.grad,
    numEvals,
    succeeded,
  });

  const zoom = (lo: Probe, hi: Probe): LineSearchResult => {
    let last = lo;
    while (numEvals < maxIter) {
      const left = Math.min(lo.t, hi.t);
      const width = Math.abs(hi.t - lo.t);
      let t = cubic ? cubicMinimizer(lo, hi) : NaN;
      // Safeguard: stay in the inner 80% of the bracket, else bisect.
      if (!(t >= left + 0.1 * width && t <= left + 0.9 * width)) t = 0.5 * (lo.t + hi.t);
      const q = probe(t);
      last = q;
      if (!sufficient(q) || q.value >= lo.value) {
        hi = q;
      } else {
        if (curvature(q)) return result(q, true);
        if (q.slope * (hi.t - lo.t) >= 0) hi = lo;
        lo = q;
      }
      if (width < 1e-16 * Math.max(1, lo.t)) break;
    }
    return result(sufficient(lo) && lo.t > 0 ? lo : last, false);
  };

  const origin: Probe = { t: 0, value, slope: slope0, params: x0, grad: stopGradient(grad) };
  let prev = origin;
  let t = Math.min(positiveNumber(opts.initialStepsize ?? 1, fn, "initialStepsize"), maxStep);
  while (numEvals < maxIter) {
    const q = probe(t);
    if (!sufficient(q) || (prev.t > 0 && q.value >= prev.value)) return zoom(prev, q);
    if (curvature(q)) return result(q, true);
    if (q.slope >= 0) return zoom(q, prev);
    if (t >= maxStep) return result(q, false);
    prev = q;
    t = Math.min(2 * t, maxStep);
  }
  return result(prev, false);
}

/** Options of {@link hagerZhangLineSearch}. */
export interface HagerZhangOptions {
  /** First step size tried (default 1). */
  initialStepsize?: number;
  /** Sufficient-decrease constant δ ∈ (0, ½) (default 0.1). */
  c1?: number;
  /** Curvature constant σ ∈ [δ, 1) (default 0.9). */
  c2?: number;
  /** Relative tolerance ε of the approximate Wolfe conditions: f may rise by ε|f(x)| (default 1e-6). */
  epsilon?: number;
  /** Bisection point θ of the interval update (default 0.5). */
  theta?: number;
  /** Required shrink factor γ of the bracket per secant² step, else bisect (default 0.66). */
  gamma?: number;
  /** Expansion factor of the bracketing phase (default 5). */
  expansion?: number;
  /** Maximum number of evaluations (default 50). */
  maxIter?: number;
}

/**
 * Hager–Zhang line search (the CG_DESCENT search of Hager & Zhang, 2005–2006): brackets a step, then shrinks
 * the bracket by double secant steps (bisecting when they shrink it by less than γ) until the Wolfe conditions
 * or the approximate Wolfe conditions (2δ − 1)φ'(0) ≥ φ'(t) ≥ σφ'(0) with f(x + t p) ≤ f(x) + ε|f(x)| hold. The
 * approximate conditions use only slopes, which stay accurate near a minimiser where differences of f are lost
 * to rounding; this is what lets it reach gradients far below √ε. Throws a `ValueError` if p is not a descent
 * direction.
 *
 * @example
 * ```ts
 * import { hagerZhangLineSearch, grad, sum, square, tensor, type Tensor } from "diffopt";
 * const f = (x: Tensor) => sum(square(x));
 * const fn = {
 *   value: (x: Tensor) => f(x).item(),
 *   valueAndGrad: (x: Tensor): [number, Tensor] => [f(x).item(), grad(f)(x)],
 * };
 * const x = tensor([1, 2]);
 * const g = grad(f)(x);
 * const r = hagerZhangLineSearch(fn, x, f(x).item(), g, g.neg());
 * console.log(r.succeeded, r.stepsize); // true 0.5
 * ```
 */
export function hagerZhangLineSearch(
  f: LineSearchFunction,
  x: Tree,
  value: number,
  grad: Tree,
  direction: Tree,
  opts: HagerZhangOptions = {},
): LineSearchResult {
  const fn = "hagerZhangLineSearch";
  const delta = positiveNumber(opts.c1 ?? 0.1, fn, "c1", true);
  const sigma = positiveNumber(opts.c2 ?? 0.9, fn, "c2", true);
  if (!(delta < 0.5 && delta <= sigma))
    throw new ValueError(`${fn}: need c1 < 0.5 and c1 ≤ c2, got c1 = ${delta}, c2 = ${sigma}`);
  const eps = opts.epsilon ?? 1e-6;
  if (!(eps >= 0)) throw new ValueError(`${fn}: epsilon must be non-negative, got ${eps}`);
  const theta = positiveNumber(opts.theta ?? 0.5, fn, "theta", true);
  const gamma = positiveNumber(opts.gamma ?? 0.66, fn, "gamma", true);
  const rho = positiveNumber(opts.expansion ?? 5, fn, "expansion");
  const maxIter = opts.maxIter ?? 50;
  const x0 = stopGradient(x);
  const p = stopGradient(direction);
  const slope0 = slopeAtZero(x0, value, grad, p, fn);
  const fLimit = value + eps * Math.abs(value);
  let numEvals = 0;
  const origin: Probe = { t: 0, value, slope: slope0, params: x0, grad: stopGradient(grad) };
  let best = origin;
  const probe = (t: number): Probe => {
    const params = stepFrom(x0, p, t);
    const [v, g] = f.valueAndGrad(params);
    numEvals++;
    const q = { t, value: v, slope: vdot(g, p).item(), params, grad: g };
    if (q.value < best.value) best = q;
    return q;
  };
  const wolfe = (q: Probe) =>
    q.slope >= sigma * slope0 &&
    ((decideBelow(q.value, value + delta * q.t * slope0, value) ?? false) ||
      ((2 * delta - 1) * slope0 >= q.slope && q.value <= fLimit));
  class Found {
    constructor(readonly q: Probe) {}
  }
  const check = (q: Probe): Probe => {
    if (Number.isFinite(q.value) && wolfe(q)) throw new Found(q);
    if (numEvals >= maxIter) throw new Found(best);
    return q;
  };
  // U3 of the paper: shrink [a, b] (with φ'(b) < 0 and φ(b) too high) until a valid bracket is found.
  const shrink = (a: Probe, b: Probe): [Probe, Probe] => {
    for (;;) {
      const d = check(probe((1 - theta) * a.t + theta * b.t));
      if (d.slope >= 0) return [a, d];
      if (d.value <= fLimit) a = d;
      else b = d;
    }
  };
  const update = (a: Probe, b: Probe, c: Probe): [Probe, Probe] => {
    if (!(c.t > a.t && c.t < b.t)) return [a, b];
    if (c.slope >= 0) return [a, c];
    if (c.value <= fLimit) return [c, b];
    return shrink(a, c);
  };
  const secant = (a: Probe, b: Probe) => (a.t * b.slope - b.t * a.slope) / (b.slope - a.slope);
  const secant2 = (a: Probe, b: Probe): [Probe, Probe] => {
    const ct = secant(a, b);
    if (!Number.isFinite(ct)) return [a, b];
    const c = check(probe(ct));
    const [A, B] = update(a, b, c);
    let cbar = NaN;
    if (c.t === B.t) cbar = secant(b, B);
    else if (c.t === A.t) cbar = secant(a, A);
    if (Number.isFinite(cbar) && cbar > A.t && cbar < B.t) return update(A, B, check(probe(cbar)));
    return [A, B];
  };
  try {
    // Bracketing (B0–B3 of the paper).
    let c = check(probe(positiveNumber(opts.initialStepsize ?? 1, fn, "initialStepsize")));
    let lastGood = origin;
    let a: Probe;
    let b: Probe;
    for (;;) {
      if (c.slope >= 0) {
        [a, b] = [lastGood, c];
        break;
      }
      if (!(c.value <= fLimit)) {
        [a, b] = shrink(origin, c);
        break;
      }
      lastGood = c;
      c = check(probe(rho * c.t));
    }
    for (;;) {
      const width = b.t - a.t;
      let [A, B] = secant2(a, b);
      if (B.t - A.t > gamma * width) [A, B] = update(A, B, check(probe((A.t + B.t) / 2)));
      [a, b] = [A, B];
      if (b.t - a.t <= 1e-16 * Math.max(1, b.t)) break;
    }
    return { stepsize: best.t, params: best.params, value: best.value, grad: best.grad, numEvals, succeeded: false };
  } catch (e) {
    if (!(e instanceof Found)) throw e;
    const q = e.q;
    const ok = q.t > 0 && wolfe(q);
    return { stepsize: q.t, params: q.params, value: q.value, grad: q.grad, numEvals, succeeded: ok };
  }
}

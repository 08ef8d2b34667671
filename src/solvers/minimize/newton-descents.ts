/**
 * Newton-type descents: Newton with a modified Hessian (dense), Newton-CG (truncated conjugate gradients on
 * Hessian-vector products), and the two trust-region subproblem solvers, Steihaug–Toint CG (matrix-free) and
 * dogleg (dense).
 *
 * Truncated CG is written once: with an infinite radius it is the inner solver of line-search Newton-CG
 * (Nocedal & Wright, Algorithm 7.1), with a finite one it is Steihaug–Toint (Algorithm 7.2).
 *
 * @internal
 * @module
 */
import { Tensor, eye } from "../../core/tensor.js";
import { add, scale, sub, vdot, type Tree } from "../../core/tree.js";
import { stopGradient } from "../../core/transforms.js";
import { div } from "../../core/ops/elementwise.js";
import { choleskyFactor } from "../../linalg/dense/kernels.js";
import { LinearSolveError } from "../../linalg/dense/errors.js";
import { LinearOperator } from "../../linalg/operator.js";
import { linearSolve } from "../../linalg/solve.js";
import { unravel, type LocalModel } from "./model.js";
import { normOf } from "../common.js";
import { num, type Descent, type RegionStep } from "./descents.js";

/** The τ ≥ 0 with ‖z + τd‖ = Δ (plain numbers; a constant of unrolled derivatives). */
function toBoundary(z: Tree, d: Tree, radius: number): number {
  const zp = stopGradient(z);
  const dp = stopGradient(d);
  const a = num(vdot(dp, dp));
  const b = 2 * num(vdot(zp, dp));
  const c = num(vdot(zp, zp)) - radius * radius;
  return (-b + Math.sqrt(Math.max(b * b - 4 * a * c, 0))) / (2 * a);
}

/** @internal The result of {@link truncatedCg}. */
export interface TruncatedCgResult {
  step: Tree;
  /** The step stopped on the boundary ‖step‖ = radius. */
  boundary: boolean;
  /** Negative curvature dᵀHd ≤ 0 was met. */
  negativeCurvature: boolean;
}

/**
 * @internal Truncated CG for min_z ⟨g, z⟩ + ½⟨z, Hz⟩ subject to ‖z‖ ≤ radius, from z = 0, stopping when
 * ‖Hz + g‖ ≤ rtol·‖g‖, on the boundary, or at negative curvature. With an infinite radius, negative curvature
 * returns the last iterate (−g when met at once), a descent direction either way.
 */
export function truncatedCg(
  hvp: (v: Tree) => Tree,
  g: Tree,
  radius: number,
  rtol: number,
  maxIter: number,
): TruncatedCgResult {
  let z: Tree = scale(0, g);
  let r: Tree = g;
  let d: Tree = scale(-1, g);
  let rr = vdot(r, r);
  const tol = rtol * Math.sqrt(num(stopGradient(rr)));
  if (Math.sqrt(num(rr)) <= tol) return { step: z, boundary: false, negativeCurvature: false };
  for (let j = 0; j < maxIter; j++) {
    const Hd = hvp(d);
    const curvature = vdot(d, Hd);
    if (!(num(curvature) > 0)) {
      if (Number.isFinite(radius)) {
        return { step: add(z, scale(toBoundary(z, d, radius), d)), boundary: true, negativeCurvature: true };
      }
      return { step: j === 0 ? d : z, boundary: false, negativeCurvature: true };
    }
    const alpha = div(rr, curvature);
    const zNext = add(z, scale(alpha, d));
    if (normOf(zNext) >= radius) {
      return { step: add(z, scale(toBoundary(z, d, radius), d)), boundary: true, negativeCurvature: false };
    }
    z = zNext;
    r = add(r, scale(alpha, Hd));
    const rrNext = vdot(r, r);
    if (Math.sqrt(num(rrNext)) <= tol) break;
    d = add(scale(-1, r), scale(div(rrNext, rr), d));
    rr = rrNext;
  }
  return { step: z, boundary: false, negativeCurvature: false };
}

/** The forcing term η = min(½, √‖g‖) of inexact Newton (superlinear convergence, Nocedal & Wright (7.3)). */
function forcing(g: Tree): number {
  return Math.min(0.5, Math.sqrt(normOf(g)));
}

/** @internal The decrease m(0) − m(s) = −⟨g, s⟩ − ½⟨s, Hs⟩ of the quadratic model, on plain values. */
export function predictedDecrease(model: LocalModel, s: Tree): number {
  const sp = stopGradient(s);
  const gs = num(vdot(stopGradient(model.grad), sp));
  const sHs = num(vdot(sp, stopGradient(model.hvp(sp))));
  return -gs - 0.5 * sHs;
}

/** @internal Newton-CG: the truncated-CG Newton direction, always a descent direction. */
export function newtonCgDescent(maxCgIter: (n: number) => number): Descent<null> {
  return {
    init: () => null,
    direction: (model) => {
      const n = model.flatGrad.size;
      const { step } = truncatedCg(model.hvp, model.grad, Infinity, forcing(model.grad), maxCgIter(n));
      return { kind: "line", p: step };
    },
    update: () => null,
  };
}

/** @internal Steihaug–Toint truncated CG on the trust region ‖s‖ ≤ Δ. */
export function steihaugDescent(maxCgIter: (n: number) => number): Descent<null> {
  return {
    init: () => null,
    direction: (model) => {
      const n = model.flatGrad.size;
      const rtol = forcing(model.grad);
      return {
        kind: "region",
        step: (radius): RegionStep => {
          const { step, boundary } = truncatedCg(model.hvp, model.grad, radius, rtol, maxCgIter(n));
          return { step, boundary, predicted: predictedDecrease(model, step) };
        },
      };
    },
    update: () => null,
  };
}

/**
 * @internal The smallest τ ≥ 0 (0, then β, doubling) with H + τI positive definite, by attempted Cholesky
 * factorisations (Nocedal & Wright, Algorithm 3.3, β = 1e-3·max|Hᵢᵢ|).
 */
export function positiveShift(H: Tensor): number {
  const n = H.shape[0]!;
  const a = stopGradient(H).raw;
  let minDiag = Infinity;
  for (let i = 0; i < n; i++) minDiag = Math.min(minDiag, a[i * n + i]!);
  const beta = shiftUnit(H);
  let tau = minDiag > 0 ? 0 : beta - minDiag;
  for (let k = 0; k < 100; k++) {
    const shifted = a.slice();
    for (let i = 0; i < n; i++) shifted[i * n + i]! += tau;
    if (choleskyFactor(shifted, n) !== null) return tau;
    tau = Math.max(2 * tau, beta);
  }
  return NaN;
}

/** β = 10⁻³·max|Hᵢᵢ| (at least 10⁻¹¹), the first non-zero shift of {@link positiveShift}. */
function shiftUnit(H: Tensor): number {
  const n = H.shape[0]!;
  const a = stopGradient(H).raw;
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, Math.abs(a[i * n + i]!));
  return 1e-3 * Math.max(maxDiag, 1e-8);
}

/**
 * @internal The solution of (H + τI) s = −g for a dense H with τ from {@link positiveShift}, or null. A shift
 * that lets Cholesky factorise can still leave H + τI too ill-conditioned for the solve's residual check (in
 * Gulf's flat valley, test/solvers-mgh.test.ts, the condition number is ~10¹⁰): τ then grows (at least to β,
 * then ×4), moving the step towards a scaled gradient step, instead of the solve's error escaping the run.
 */
function modifiedNewtonStep(model: LocalModel): Tree | null {
  const H = model.hessian().materialize();
  let tau = positiveShift(H);
  if (!Number.isFinite(tau)) return null;
  const n = H.shape[0]!;
  for (let attempt = 0; attempt < 8; attempt++) {
    const op = LinearOperator.fromMatrix(tau === 0 ? H : H.add(eye(n).mul(tau)), {
      symmetric: true,
      positiveDefinite: true,
    });
    try {
      return unravel(linearSolve(op, model.flatGrad.neg(), { solver: "cholesky" }).value, model.grad);
    } catch (e) {
      if (!(e instanceof LinearSolveError)) throw e;
      tau = Math.max(4 * tau, shiftUnit(H));
    }
  }
  return null;
}

const NOT_POSITIVE =
  "the Hessian could not be made positive definite and solvable by a diagonal shift (non-finite entries?); check the objective";

/** @internal Newton with a dense, modified Hessian: (∇²f + τI) p = −∇f, τ ≥ 0 the smallest shift that works. */
export function newtonDescent(): Descent<null> {
  return {
    init: () => null,
    direction: (model) => {
      const p = modifiedNewtonStep(model);
      return p === null ? NOT_POSITIVE : { kind: "line", p };
    },
    update: () => null,
  };
}

/**
 * @internal Dogleg (Powell): along the Cauchy step −(gᵀg/gᵀBg)g, then towards the Newton step −B⁻¹g, cut at the
 * radius; B is the Hessian shifted to be positive definite when it is not.
 */
export function doglegDescent(): Descent<null> {
  return {
    init: () => null,
    direction: (model) => {
      const newton = modifiedNewtonStep(model);
      if (newton === null) return NOT_POSITIVE;
      const g = model.grad;
      const gHg = vdot(g, model.hvp(g));
      const cauchy = num(gHg) > 0 ? scale(div(vdot(g, g), gHg).neg(), g) : null;
      const newtonNorm = normOf(newton);
      return {
        kind: "region",
        step: (radius): RegionStep => {
          let step: Tree;
          let boundary = true;
          if (newtonNorm <= radius) {
            step = newton;
            boundary = false;
          } else if (cauchy === null || normOf(cauchy) >= radius) {
            step = scale(-radius / normOf(g), g);
          } else {
            const d = sub(newton, cauchy);
            step = add(cauchy, scale(toBoundary(cauchy, d, radius), d));
          }
          return { step, boundary, predicted: predictedDecrease(model, step) };
        },
      };
    },
    update: () => null,
  };
}

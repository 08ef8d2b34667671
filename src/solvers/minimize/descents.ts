/**
 * Search directions ("descents", as in Optimistix): the half of a minimiser that says where to go, separate from
 * the step rule that says how far (a line search or a trust region, see `steps.ts`). A descent keeps its own
 * memory (curvature pairs, the previous direction), offers either a direction p for a line search or a step
 * s(Δ) for a trust-region size Δ, and updates its memory after an accepted step.
 *
 * This file holds the first-order and quasi-Newton descents: steepest descent, L-BFGS (the two-loop recursion as
 * a positive-definite `LinearOperator`), dense BFGS, and nonlinear conjugate gradients. Newton-type descents are
 * in `newton-descents.ts`, least-squares ones in `least-squares-descents.ts`.
 *
 * Directions are computed with differentiable ops on whatever values the loop holds, so an unrolled run
 * (`implicitDiff: false`) differentiates through them; the decisions (restarts, skipped pairs) are made on plain
 * numbers.
 *
 * @internal
 * @module
 */
import { Tensor, eye } from "../../core/tensor.js";
import { add as addTrees, scale, sub, vdot, type Tree } from "../../core/tree.js";
import { stopGradient } from "../../core/transforms.js";
import { add, div, mul, sub as subOp } from "../../core/ops/elementwise.js";
import { dot as dotOp, matmul, outer } from "../../core/ops/matmul.js";
import { LinearOperator, type AnyLinearOperator } from "../../linalg/operator.js";
import { normOf } from "../common.js";
import { ravel, unravel, type LocalModel } from "./model.js";

/**
 * @internal A direction p for a line search; `initialStep` is the first step size to try (default 1);
 * `restart` marks a direction that discarded the descent's memory (reported back in {@link AcceptedStep}).
 */
export interface LineDirection {
  readonly kind: "line";
  readonly p: Tree;
  readonly initialStep?: number;
  readonly restart?: boolean;
}

/** @internal A trial step of a trust-region descent and the decrease its model predicts. */
export interface RegionStep {
  readonly step: Tree;
  /** m(0) − m(step) for the descent's quadratic model, a plain number (may be NaN: reject the step). */
  readonly predicted: number;
  /** The step lies on the boundary of the region (the rule may then grow the region). */
  readonly boundary: boolean;
}

/** @internal A family of steps indexed by a size (trust radius, or 1/λ for damping). */
export interface RegionDirection {
  readonly kind: "region";
  step(size: number): RegionStep;
  /** The size to start from on the first iteration, when the descent knows a good one. */
  readonly initialSize?: number;
}

/** @internal What a descent returns: a direction, or the reason why there is none. */
export type Direction = LineDirection | RegionDirection;

/** @internal An accepted step, from which descents update their memory. */
export interface AcceptedStep {
  /** x⁺ − x. */
  readonly s: Tree;
  /** ∇f(x⁺) − ∇f(x). */
  readonly y: Tree;
  /** ∇f(x) and ∇f(x⁺). */
  readonly gradOld: Tree;
  readonly grad: Tree;
  /** The direction of a line search (null for a trust-region step), the step size taken along it, ⟨∇f(x), p⟩. */
  readonly p: Tree | null;
  readonly stepsize: number;
  readonly slope: number;
  /** The direction restarted the descent's memory. */
  readonly restart: boolean;
}

/** @internal A search direction with memory D. */
export interface Descent<D = unknown> {
  init(model: LocalModel): D;
  /** The direction at the model's point, or a message saying why there is none. */
  direction(model: LocalModel, state: D): Direction | string;
  /** The memory after an accepted step. */
  update(state: D, step: AcceptedStep): D;
  /** The memory forgotten (restart after a failure); absent for memoryless descents. */
  reset?(model: LocalModel): D;
}

/** @internal A scalar tensor's value as a constant (iterates may be traced when unrolling). */
export const num = (t: Tensor): number => t.raw[0]!;

/** The first step of a method without curvature information: a unit move, at most 1 (Nocedal & Wright §6.1). */
function firstStep(g: Tree): number {
  const n = normOf(g);
  return n > 0 ? Math.min(1, 1 / n) : 1;
}

interface StepMemory {
  /** ⟨∇f, p⟩ and the step size of the previous line search (for the next initial step). */
  slope: number;
  stepsize: number;
}

/**
 * Nocedal & Wright (3.60): start where the previous step's first-order decrease would be repeated,
 * t₀ = t_prev·⟨∇f_prev, p_prev⟩/⟨∇f, p⟩.
 */
function repeatDecrease(prev: StepMemory | null, g: Tree, p: Tree): number {
  if (prev === null) return firstStep(g);
  const slope = num(vdot(stopGradient(g), stopGradient(p)));
  const t = (prev.stepsize * prev.slope) / slope;
  return Number.isFinite(t) && t > 0 ? 1.01 * t : 1;
}

/** @internal L-BFGS memory: the last curvature pairs (oldest first) and the initial scaling γ = sᵀy/yᵀy. */
export interface LbfgsMemory {
  /** The pairs, raveled (flat vectors: the two-loop then costs plain vector ops, no pytree walks). */
  s: Tensor[];
  y: Tensor[];
  gamma: Tensor | null;
}

/**
 * @internal Whether a curvature pair may enter a quasi-Newton update: sᵀy > ε·yᵀy (the test of L-BFGS-B,
 * Byrd, Lu, Nocedal & Zhu), which keeps the approximation positive definite and bounded.
 */
export function curvatureOk(s: Tree, y: Tree): boolean {
  const sy = num(vdot(stopGradient(s), stopGradient(y)));
  const yy = num(vdot(stopGradient(y), stopGradient(y)));
  return sy > Number.EPSILON * yy && yy > 0;
}

/**
 * The L-BFGS inverse-Hessian approximation H as a linear operator on flat vectors (the two-loop recursion of
 * Nocedal & Wright, Algorithm 7.4, with H₀ = γI), tagged symmetric positive definite. Its params are the pairs
 * and γ, so products with it are differentiable in them.
 *
 * @internal
 */
export function lbfgsInverseHessian(memory: LbfgsMemory, n: number): AnyLinearOperator {
  return LinearOperator.fromFunction(
    (m: { s: Tensor[]; y: Tensor[]; gamma: Tensor }, v: Tensor) => {
      const k = m.s.length;
      const rho = m.s.map((s, i) => div(1, dotOp(s, m.y[i]!)));
      const alpha: Tensor[] = new Array<Tensor>(k);
      let q = v;
      for (let i = k - 1; i >= 0; i--) {
        alpha[i] = mul(rho[i]!, dotOp(m.s[i]!, q));
        q = subOp(q, mul(alpha[i]!, m.y[i]!));
      }
      let r = mul(m.gamma, q);
      for (let i = 0; i < k; i++) {
        const beta = mul(rho[i]!, dotOp(m.y[i]!, r));
        r = add(r, mul(subOp(alpha[i]!, beta), m.s[i]!));
      }
      return r;
    },
    { s: memory.s, y: memory.y, gamma: memory.gamma ?? new Tensor(new Float64Array([1]), []) },
    new Tensor(new Float64Array(n), [n]),
    { tags: { symmetric: true, positiveDefinite: true } },
  );
}

/** @internal L-BFGS with `historySize` pairs; pairs failing {@link curvatureOk} are skipped. */
export function lbfgsDescent(historySize: number): Descent<LbfgsMemory> {
  const fresh = (): LbfgsMemory => ({ s: [], y: [], gamma: null });
  return {
    init: fresh,
    reset: fresh,
    direction: (model, mem) => {
      if (mem.s.length === 0) return { kind: "line", p: scale(-1, model.grad), initialStep: firstStep(model.grad) };
      const H = lbfgsInverseHessian(mem, model.flatGrad.size);
      return { kind: "line", p: unravel(H.matvec<Tensor>(model.flatGrad).neg(), model.grad) };
    },
    update: (mem, step) => {
      if (!curvatureOk(step.s, step.y)) return mem;
      const s = ravel(step.s);
      const y = ravel(step.y);
      const keep = historySize === mem.s.length ? 1 : 0;
      return {
        s: [...mem.s.slice(keep), s],
        y: [...mem.y.slice(keep), y],
        // Nocedal & Wright (7.20): H₀ = (sᵀy / yᵀy) I from the newest pair.
        gamma: div(dotOp(s, y), dotOp(y, y)),
      };
    },
  };
}

/** @internal BFGS memory: the dense inverse-Hessian approximation on the raveled params (null before a pair). */
export interface BfgsMemory {
  H: Tensor | null;
}

/**
 * @internal Dense BFGS: H⁺ = (I − ρsyᵀ) H (I − ρysᵀ) + ρssᵀ (ρ = 1/sᵀy), with H₀ = (sᵀy/yᵀy) I before the first
 * update.
 */
export function bfgsDescent(): Descent<BfgsMemory> {
  return {
    init: () => ({ H: null }),
    reset: () => ({ H: null }),
    direction: (model, mem) => {
      if (mem.H === null) return { kind: "line", p: scale(-1, model.grad), initialStep: firstStep(model.grad) };
      const H = LinearOperator.fromMatrix(mem.H, { symmetric: true, positiveDefinite: true });
      return { kind: "line", p: unravel(H.matvec<Tensor>(model.flatGrad).neg(), model.grad) };
    },
    update: (mem, { s, y }) => {
      if (!curvatureOk(s, y)) return mem;
      const sf = ravel(s);
      const yf = ravel(y);
      const n = sf.size;
      const sy = vdot(sf, yf);
      const rho = div(1, sy);
      const H0 = mem.H ?? eye(n).mul(div(sy, vdot(yf, yf)));
      // (I − ρsyᵀ) H (I − ρysᵀ) + ρssᵀ expanded to rank-two terms, O(n²) instead of two n³ products:
      // H + (ρ + ρ²·yᵀHy) ssᵀ − ρ(Hy sᵀ + s (Hy)ᵀ), symmetric by construction.
      const Hy = matmul(H0, yf);
      const cross = outer(Hy, sf);
      const H = H0.add(mul(add(rho, mul(mul(rho, rho), vdot(yf, Hy))), outer(sf, sf))).sub(
        mul(rho, cross.add(cross.T)),
      );
      return { H };
    },
  };
}

/** The nonlinear conjugate-gradient formulas for β. */
export type ConjugateGradientMethod = "polakRibierePlus" | "fletcherReeves" | "hestenesStiefel" | "daiYuan";

/** @internal NCG memory: the previous gradient and direction, and the previous step for the initial step. */
export interface NcgMemory {
  grad: Tree | null;
  p: Tree | null;
  step: StepMemory | null;
  /** Directions since the last restart. */
  sinceRestart: number;
}

/**
 * @internal Nonlinear CG p = −∇f + βp_prev, restarted with p = −∇f every `restartEvery` directions (default n,
 * the number of params),
 * when the gradients lose orthogonality (Powell: |⟨∇f, ∇f_prev⟩| ≥ 0.2‖∇f‖²), and whenever p is not a descent
 * direction.
 */
export function nonlinearCgDescent(method: ConjugateGradientMethod, restartEvery?: number): Descent<NcgMemory> {
  const fresh = (): NcgMemory => ({ grad: null, p: null, step: null, sinceRestart: 0 });
  return {
    init: fresh,
    reset: fresh,
    direction: (model, mem) => {
      const g = model.grad;
      let p: Tree = scale(-1, g);
      let restart = true;
      if (mem.grad !== null && mem.p !== null && mem.sinceRestart < (restartEvery ?? model.flatGrad.size)) {
        const gp = stopGradient(g);
        const gg = num(vdot(gp, gp));
        const powell = Math.abs(num(vdot(gp, stopGradient(mem.grad)))) >= 0.2 * gg;
        if (!powell) {
          const y = sub(g, mem.grad);
          const ggPrev = vdot(mem.grad, mem.grad);
          let beta: Tensor;
          if (method === "fletcherReeves") beta = div(vdot(g, g), ggPrev);
          else if (method === "polakRibierePlus") beta = div(vdot(g, y), ggPrev);
          else if (method === "hestenesStiefel") beta = div(vdot(g, y), vdot(mem.p, y));
          else beta = div(vdot(g, g), vdot(mem.p, y));
          const b = num(beta);
          // PR+: β = max(β, 0), a restart when negative (Gilbert & Nocedal).
          if (Number.isFinite(b) && (method !== "polakRibierePlus" || b > 0)) {
            const q = addTrees(p, scale(beta, mem.p));
            if (num(vdot(gp, stopGradient(q))) < 0) {
              p = q;
              restart = false;
            }
          }
        }
      }
      return { kind: "line", p, initialStep: repeatDecrease(mem.step, g, p), restart };
    },
    update: (mem, step) => ({
      grad: step.gradOld,
      p: step.p,
      step: { slope: step.slope, stepsize: step.stepsize },
      sinceRestart: step.restart ? 1 : mem.sinceRestart + 1,
    }),
  };
}

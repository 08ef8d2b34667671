/**
 * Not an example itself: ridge regression on the diabetes data and the paper's Theorem 1 along gradient-descent
 * iterates, shared by the demo (examples/ridge-hypergradient.ts) and the paper's `jacobian-precision`
 * experiment.
 *
 * Theorem 1 for ridge: F(w, θ) = ∇_w f = (XᵀX + diag θ) w − Xᵀy, so A = ∂_w F = XᵀX + diag θ is constant
 * (γ = 0), B = ∂_θ F = diag(w) is 1-Lipschitz in w (β = 1) and σ_min(A) = μ = λ_min(XᵀX + diag θ). The implicit
 * Jacobian evaluated at an inexact ŵ, −A⁻¹B(ŵ), is then within ‖ŵ − w*‖/μ of the true one (Frobenius norm:
 * ‖A⁻¹ diag(ŵ − w*)‖_F ≤ ‖A⁻¹‖₂‖ŵ − w*‖₂).
 */
import {
  Tensor,
  add,
  eye,
  grad,
  jvp,
  linalg,
  matmul,
  mul,
  rootJvp,
  square,
  stationarity,
  sub,
  sum,
  tensor,
  zeros,
} from "../src/index.js";
import { diabetesSplit } from "./data.js";

/** The ridge problem on the first `nTrain` diabetes rows; θ is a scalar or one regularisation per feature. */
export function ridgeProblem(nTrain = 300) {
  const { X, Xtr, ytr, Xval, yval, d } = diabetesSplit(nTrain);
  /** Inner objective: ½‖X w − y‖² + ½ Σⱼ θⱼ wⱼ². */
  const inner = (w: Tensor, theta: Tensor) =>
    add(mul(0.5, sum(square(sub(matmul(Xtr, w), ytr)))), mul(0.5, sum(mul(theta, square(w)))));
  /** Outer objective: ½‖X_val w − y_val‖². */
  const outer = (w: Tensor) => mul(0.5, sum(square(sub(matmul(Xval, w), yval))));
  const gram = matmul(Xtr.T, Xtr);
  /** XᵀX + diag θ (θ broadcast over the columns of the identity). */
  const hess = (theta: Tensor) => add(gram, mul(eye(d), theta));
  /** Any solver works; here a direct solve on plain values. */
  const solve = (_init: Tensor | undefined, theta: Tensor) => linalg.solve(hess(theta), matmul(Xtr.T, ytr));
  /** Extreme eigenvalues μ and L of XᵀX + diag θ. */
  const spectrum = (theta: Tensor) => {
    const ev = linalg.eigh(hess(theta)).eigenvalues.data;
    return { mu: ev[0]!, lipschitz: ev[d - 1]! };
  };
  return { X, Xtr, ytr, Xval, yval, d, inner, outer, hess, solve, spectrum, nTrain };
}

export type RidgeProblem = ReturnType<typeof ridgeProblem>;

/** One gradient-descent step w − ∇f(w, θ)/L (differentiable in w and θ). */
export function gradientStep(p: RidgeProblem, lipschitz: number) {
  return (w: Tensor, theta: Tensor) => sub(w, mul(1 / lipschitz, grad(p.inner)(w, theta) as Tensor));
}

/** Errors at one gradient-descent iterate ŵ_k (Frobenius norms of the Jacobians ∂w/∂θ). */
export interface Theorem1Point {
  k: number;
  /** ‖ŵ_k − w*‖. */
  solutionError: number;
  /** ‖J_implicit(ŵ_k) − J*‖: the implicit Jacobian evaluated at the iterate. */
  implicitError: number;
  /** ‖ŵ_k − w*‖ / μ, the Theorem 1 bound. */
  bound: number;
  /** ‖∂ŵ_k/∂θ − J*‖: the Jacobian of the unrolled iterations. */
  unrolledError: number;
}

/**
 * Runs gradient descent (step 1/L from w = 0) for max(checkpoints) iterations, carrying the unrolled Jacobian
 * ∂ŵ_k/∂θ along by forward mode (one JVP of the step per column: exactly the derivative of the unrolled loop),
 * and at each checkpoint compares it, and the implicit Jacobian at ŵ_k (`rootJvp` of the stationarity
 * condition, evaluated at the inexact iterate), with the true Jacobian J* = −A⁻¹ diag(w*).
 */
export function theorem1Series(
  p: RidgeProblem,
  theta: Tensor,
  checkpoints: number[],
  onIteration?: (k: number) => void,
): { points: Theorem1Point[]; mu: number; lipschitz: number; trueJacobian: Tensor } {
  const { mu, lipschitz } = p.spectrum(theta);
  const wStar = p.solve(undefined, theta);
  const n = theta.size;
  const basis = Array.from({ length: n }, (_, i) => {
    const e = new Float64Array(n);
    e[i] = 1;
    return tensor(e, theta.shape);
  });
  // columns of J* = −A⁻¹ diag(w*) (for a scalar θ: −A⁻¹ w*)
  const rhs = n === 1 ? wStar.reshape([p.d, 1]) : mul(eye(p.d), wStar);
  const trueJacobian = mul(-1, linalg.solve(p.hess(theta), rhs));
  const asMatrix = (cols: Tensor[]) => (cols.length === 1 ? cols[0]!.reshape([p.d, 1]) : stackColumns(cols));
  const frob = (t: Tensor) => Math.sqrt(sum(square(t)).item());
  const F = stationarity(p.inner);
  const step = gradientStep(p, lipschitz);
  const last = Math.max(...checkpoints);
  const wanted = new Set(checkpoints);
  let w = zeros([p.d]);
  let cols = basis.map(() => zeros([p.d]));
  const points: Theorem1Point[] = [];
  for (let k = 1; k <= last; k++) {
    const next = cols.map((c, i) => jvp(step, [w, theta], [c, basis[i]!])[1]);
    w = step(w, theta);
    cols = next;
    onIteration?.(k);
    if (!wanted.has(k)) continue;
    const implicitCols = basis.map(
      (e) =>
        rootJvp(F, w, [theta], [e], { positiveDefinite: true, solve: "cholesky", residualTol: Infinity }) as Tensor,
    );
    const solutionError = frob(sub(w, wStar));
    points.push({
      k,
      solutionError,
      implicitError: frob(sub(asMatrix(implicitCols), trueJacobian)),
      bound: solutionError / mu,
      unrolledError: frob(sub(asMatrix(cols), trueJacobian)),
    });
  }
  return { points, mu, lipschitz, trueJacobian };
}

function stackColumns(cols: Tensor[]): Tensor {
  const d = cols[0]!.size;
  const out = new Float64Array(d * cols.length);
  cols.forEach((c, j) => c.data.forEach((v, i) => (out[i * cols.length + j] = v)));
  return tensor(out, [d, cols.length]);
}

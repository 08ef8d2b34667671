/**
 * The computations of the page's first panel, free of DOM code: ridge regression on a seeded synthetic
 * dataset, and the hypergradient of its validation loss with respect to λ by implicit differentiation and by
 * the closed form.
 */
import {
  add,
  customRoot,
  eye,
  grad,
  linalg,
  matmul,
  mul,
  random,
  square,
  stationarity,
  sub,
  sum,
  tensor,
  type ImplicitDiagnostics,
  type Tensor,
} from "../src/index.js";

/** A regression problem split into a training set (for w) and a validation set (for λ). */
export interface RidgeData {
  readonly Xtr: Tensor;
  readonly ytr: Tensor;
  readonly Xval: Tensor;
  readonly yval: Tensor;
}

/** Sizes of the synthetic problem: few samples per feature, so that λ matters. */
export const FEATURES = 8;
const TRAIN = 24;
const VALIDATION = 40;
const NOISE = 1.5;

/**
 * y = X w_true + noise with standard normal X, w_true ~ N(0, 1) and noise ~ N(0, NOISE²), every draw from
 * its own key split from `random.key(seed)`.
 */
export function syntheticData(seed: number): RidgeData {
  const [kw, kXtr, kXval, kNtr, kNval] = random.split(random.key(seed), 5);
  const wTrue = random.normal(kw, [FEATURES]);
  const Xtr = random.normal(kXtr, [TRAIN, FEATURES]);
  const Xval = random.normal(kXval, [VALIDATION, FEATURES]);
  return {
    Xtr,
    ytr: add(matmul(Xtr, wTrue), random.normal(kNtr, [TRAIN], { std: NOISE })),
    Xval,
    yval: add(matmul(Xval, wTrue), random.normal(kNval, [VALIDATION], { std: NOISE })),
  };
}

/** Inner objective ½‖X_tr w − y_tr‖² + ½λ‖w‖², whose minimiser is w*(λ). */
function trainingObjective(data: RidgeData, w: Tensor, lam: Tensor): Tensor {
  return add(mul(0.5, sum(square(sub(matmul(data.Xtr, w), data.ytr)))), mul(mul(0.5, lam), sum(square(w))));
}

/** Outer objective: half the mean squared validation error of w. */
export function validationLoss(data: RidgeData, w: Tensor): Tensor {
  return mul(0.5 / data.yval.size, sum(square(sub(matmul(data.Xval, w), data.yval))));
}

/** H(λ) = X_trᵀX_tr + λI, the Hessian of the training objective. */
function hessian(data: RidgeData, lam: Tensor): Tensor {
  return add(matmul(data.Xtr.T, data.Xtr), mul(lam, eye(FEATURES)));
}

/** w*(λ) = H(λ)⁻¹ X_trᵀ y_tr by a dense solve (not differentiated: customRoot supplies the derivative). */
export function ridgeSolution(data: RidgeData, lam: Tensor): Tensor {
  return linalg.solve(hessian(data, lam), matmul(data.Xtr.T, data.ytr), { assumeA: "pos" });
}

/** Everything the panel shows for one λ. */
export interface RidgeResult {
  readonly w: Tensor;
  readonly loss: number;
  /** dL/dλ by `customRoot(stationarity(…))` and reverse mode. */
  readonly implicit: number;
  /** dL/dλ = ∇L(w*)ᵀ·dw/dλ, with dw/dλ = −H⁻¹w* (differentiating H w* = X_trᵀy_tr in λ). */
  readonly closedForm: number;
  /** What the implicit derivative measured about itself. */
  readonly diagnostics: ImplicitDiagnostics;
}

/** w*(λ), the validation loss and its hypergradient two ways; throws the library's typed errors on bad λ. */
export function analyseRidge(data: RidgeData, lambda: number): RidgeResult {
  const lam = tensor(lambda);
  let diagnostics: ImplicitDiagnostics | undefined;
  const layer = customRoot(
    stationarity((w: Tensor, l: Tensor) => trainingObjective(data, w, l)),
    {
      positiveDefinite: true,
      onDiagnostics: (d) => (diagnostics = d),
    },
  )((_init: Tensor | undefined, l: Tensor) => ridgeSolution(data, l));
  const implicit = (grad((l: Tensor) => validationLoss(data, layer(undefined, l)))(lam) as Tensor).item();

  const w = ridgeSolution(data, lam);
  const dwdl = mul(-1, linalg.solve(hessian(data, lam), w, { assumeA: "pos" }));
  const closedForm = sum(mul(grad((v: Tensor) => validationLoss(data, v))(w) as Tensor, dwdl)).item();
  if (diagnostics === undefined) throw new Error("analyseRidge: the implicit derivative reported no diagnostics");
  return { w, loss: validationLoss(data, w).item(), implicit, closedForm, diagnostics };
}

/**
 * Dense linear algebra with derivatives: factorisation objects (`lu`, `cholesky`, `qr`), `solve`,
 * `triangularSolve`, `inv`, `det`, `slogdet`, `lstsq`, `pinv`, `eigh`, `svd`, `svdvals`, `norm` (with the spectral
 * matrix norms), and the raw float64 kernels under them.
 * Matrices are 2-D tensors (no batch axis); every op is differentiable in forward and reverse mode, to any order.
 * @module
 */
export { LinearSolveError } from "./errors.js";
export {
  luFactor,
  luSolve,
  luMinPivot,
  choleskyFactor,
  choleskySolve,
  triangularSolveKernel,
  qrFactor,
  qrApplyQt,
  qrExplicit,
  lstsqKernel,
  numericalRank,
  eighKernel,
  type LuFactors,
  type QrFactors,
} from "./kernels.js";
export { lu, solve, inv, det, slogdet, type LuFactorization, type SolveOptions } from "./lu.js";
export { cholesky, type CholeskyFactorization } from "./cholesky.js";
export { triangularSolve, type TriangularSolveOptions } from "./triangular.js";
export { qr } from "./qr.js";
export { eigh } from "./eigh.js";
export { svd, svdvals, type Svd } from "./svd.js";
export { svdKernel, type SvdFactors } from "./svd-kernel.js";
export { norm, type LinalgNormOptions } from "./norm.js";
export { lstsq, pinv, type RcondOptions } from "./lstsq.js";

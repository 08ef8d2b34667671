/**
 * Dense linear algebra with derivatives: factorisation objects (`lu`, `cholesky`, `qr`), `solve`,
 * `triangularSolve`, `inv`, `det`, `slogdet`, `lstsq`, `pinv`, `eigh`, `svd`, `svdvals`, `norm` (with the spectral
 * matrix norms), and the raw float64 factorisation kernels under them (the eigen-, singular-value and least-squares
 * kernels stay internal: `eigh`, `svd` and `lstsq` are their public, differentiable forms).
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
  numericalRank,
  type LuFactors,
  type QrFactors,
} from "./kernels.js";
export { lu, solve, inv, det, slogdet, type LuFactorization, type SolveOptions } from "./lu.js";
export { cholesky, type CholeskyFactorization } from "./cholesky.js";
export { triangularSolve, type TriangularSolveOptions } from "./triangular.js";
export { qr } from "./qr.js";
export { eigh } from "./eigh.js";
export { svd, svdvals, type Svd } from "./svd.js";
export type { SvdFactors } from "./svd-kernel.js";
export { norm, type LinalgNormOptions } from "./norm.js";
export { lstsq, pinv, type RcondOptions } from "./lstsq.js";

/**
 * The autodiff core: tensors, ops, pytrees and transforms.
 * @module
 */
export * from "./errors.js";
export {
  Tensor,
  tensor,
  scalar,
  zeros,
  ones,
  full,
  eye,
  arange,
  linspace,
  zerosLike,
  onesLike,
  asTensor,
  sameShape,
  type Shape,
  type NestedArray,
  type TensorLike,
  type NumericArray,
  type NestedInput,
} from "./tensor.js";
export {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  neg,
  reciprocal,
  square,
  sqrt,
  exp,
  log,
  log1p,
  expm1,
  sin,
  cos,
  tan,
  tanh,
  sinh,
  cosh,
  asinh,
  arctan,
  arcsin,
  arccos,
  arccosh,
  arctanh,
  arctan2,
  log2,
  log10,
  exp2,
  cbrt,
  hypot,
  logaddexp,
  isnan,
  isfinite,
  isinf,
  sigmoid,
  softplus,
  relu,
  abs,
  sign,
  greater,
  greaterEqual,
  less,
  lessEqual,
  equal,
  notEqual,
  where,
  clip,
} from "./ops/elementwise.js";
export { floor, ceil, trunc, round, floorDivide, mod, remainder } from "./ops/rounding.js";
export { erf, erfc, sinc } from "./ops/special.js";
export { sum, mean, prod, max, min, argmax, argmin, type ReduceOptions, type ArgReduceOptions } from "./ops/reduce.js";
export { logsumexp, softmax, logSoftmax } from "./ops/softmax.js";
export { var_ as var, std, any, all, diff, type VarianceOptions } from "./ops/statistics.js";
export { sort, argsort, cumsum, cumprod } from "./ops/sort.js";
export { norm, type NormOptions } from "./ops/norm.js";
export { checkFinite } from "./check.js";
export { useKernels, activeKernels, type KernelBackend } from "./wasm/runtime.js";
export { broadcastTo } from "./ops/broadcast.js";
export { reshape, transpose, swapAxes, moveAxis, squeeze, expandDims, ravel, tile, repeat } from "./ops/shape.js";
export { concatenate, stack, split } from "./ops/join.js";
export { flip, roll } from "./ops/reorder.js";
export { einsum, tensordot, kron } from "./ops/einsum.js";
export { matmul, matmulTN, matmulNT, matrixTranspose, dot, vdot, outer } from "./ops/matmul.js";
export {
  slice,
  take,
  scatterAdd,
  at,
  IndexUpdateRef,
  type SliceSpec,
  type AtSpec,
  type Indices,
} from "./ops/indexing.js";
export * from "./ops/diag.js";
export * from "./transforms.js";
export { customJvp, customVjp } from "./custom.js";
export * as tree from "./tree.js";
export * as random from "./random.js";
export type { Tree, TreeDef } from "./tree.js";
import "./ops/methods.js";
export {
  checkGrads,
  GradCheckError,
  type CheckGradsOptions,
  type GradCheckReport,
  type GradCheckEntry,
  type GradCheckMode,
} from "./check-grads.js";
export { vmap, type VmapOptions, type AxisSpec } from "./vmap.js";

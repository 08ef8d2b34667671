/**
 * Method aliases on `Tensor` for the common ops, so code reads `x.mul(y).sum()` as in NumPy or PyTorch.
 * @module
 */
import { Tensor, type Shape, type TensorLike } from "../tensor.js";
import * as ew from "./elementwise.js";
import { sum, type ReduceOptions } from "./reduce.js";
import { reshape, transpose } from "./shape.js";
import { matmul, dot } from "./matmul.js";
import { defineMethod } from "./define-method.js";

declare module "../tensor.js" {
  interface Tensor {
    /** `add(this, other)` */
    add(other: TensorLike): Tensor;
    /** `sub(this, other)` */
    sub(other: TensorLike): Tensor;
    /** `mul(this, other)` */
    mul(other: TensorLike): Tensor;
    /** `div(this, other)` */
    div(other: TensorLike): Tensor;
    /** `pow(this, other)` */
    pow(other: TensorLike): Tensor;
    /** `neg(this)` */
    neg(): Tensor;
    /** `exp(this)` */
    exp(): Tensor;
    /** `log(this)` */
    log(): Tensor;
    /** `sqrt(this)` */
    sqrt(): Tensor;
    /** `square(this)` */
    square(): Tensor;
    /** `abs(this)` */
    abs(): Tensor;
    /** `sum(this, opts)` */
    sum(opts?: ReduceOptions): Tensor;
    /** `reshape(this, shape)` */
    reshape(shape: Shape): Tensor;
    /** `transpose(this, axes)` */
    transpose(axes?: readonly number[]): Tensor;
    /** The transpose (all axes reversed), like NumPy's `.T`. */
    readonly T: Tensor;
    /** `matmul(this, other)` */
    matmul(other: TensorLike): Tensor;
    /** `dot(this, other)` */
    dot(other: TensorLike): Tensor;
  }
}

defineMethod("add", (x, o: TensorLike) => ew.add(x, o));
defineMethod("sub", (x, o: TensorLike) => ew.sub(x, o));
defineMethod("mul", (x, o: TensorLike) => ew.mul(x, o));
defineMethod("div", (x, o: TensorLike) => ew.div(x, o));
defineMethod("pow", (x, o: TensorLike) => ew.pow(x, o));
defineMethod("neg", (x) => ew.neg(x));
defineMethod("exp", (x) => ew.exp(x));
defineMethod("log", (x) => ew.log(x));
defineMethod("sqrt", (x) => ew.sqrt(x));
defineMethod("square", (x) => ew.square(x));
defineMethod("abs", (x) => ew.abs(x));
defineMethod("sum", (x, o?: ReduceOptions) => sum(x, o));
defineMethod("reshape", (x, s: Shape) => reshape(x, s));
defineMethod("transpose", (x, a?: readonly number[]) => transpose(x, a));
defineMethod("matmul", (x, o: TensorLike) => matmul(x, o));
defineMethod("dot", (x, o: TensorLike) => dot(x, o));
Object.defineProperty(Tensor.prototype, "T", {
  get(this: Tensor) {
    return transpose(this);
  },
  configurable: true,
});

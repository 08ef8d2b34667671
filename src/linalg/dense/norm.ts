/**
 * `linalg.norm`: `numpy.linalg.norm`, including the matrix norms that need singular values.
 * @module
 */
import { ValueError } from "../../core/errors.js";
import { fmt, normalizeAxis } from "../../core/shape.js";
import { asTensor, type Tensor, type TensorLike } from "../../core/tensor.js";
import { stack, split } from "../../core/ops/join.js";
import { norm as elementwiseNorm, type NormOptions } from "../../core/ops/norm.js";
import { max, min, sum } from "../../core/ops/reduce.js";
import { expandDims, reshape, transpose } from "../../core/ops/shape.js";
import { svdvals } from "./svd.js";

/** Options of {@link norm}: those of the top-level `norm`, plus the spectral orders of matrix norms. */
export interface LinalgNormOptions extends Omit<NormOptions, "ord"> {
  /**
   * As the top-level `norm`, and for matrices also 2 (largest singular value), -2 (smallest) and 'nuc' (their
   * sum, the nuclear norm).
   */
  ord?: number | "fro" | "nuc";
}

const SPECTRAL = { 2: max, [-2]: min, nuc: sum } as const;

/**
 * Vector or matrix norm with NumPy's `linalg.norm` conventions. Orders that need no singular values are the
 * top-level `norm`; the matrix norms ord 2, -2 and 'nuc' reduce `svdvals` over the two matrix axes (any other axes
 * are a batch), and are differentiable wherever the singular values they use are (see `svdvals`).
 *
 * @example
 * ```ts
 * import { linalg, grad, tensor } from "diffopt";
 * const A = tensor([[3, 0], [4, 5]]);
 * linalg.norm(A, { ord: 2 }).item();     // 6.7082… = √45 (largest singular value)
 * linalg.norm(A, { ord: "nuc" }).item(); // 8 (= 3√5 + √5)
 * linalg.norm(A).item();                 // 7.0710… (Frobenius)
 * grad((a) => linalg.norm(a, { ord: 2 }))(A).toArray(); // u₁v₁ᵀ
 * ```
 */
export function norm(x: TensorLike, opts: LinalgNormOptions = {}): Tensor {
  const { ord } = opts;
  if (ord !== 2 && ord !== -2 && ord !== "nuc") return elementwiseNorm(x, opts as NormOptions);
  const t = asTensor(x);
  const axes = opts.axis === undefined ? null : typeof opts.axis === "number" ? [opts.axis] : [...opts.axis];
  const isMatrix = axes === null ? t.ndim === 2 : axes.length === 2;
  if (!isMatrix) {
    if (ord === "nuc") throw new ValueError(`linalg.norm: ord 'nuc' is a matrix norm; give a 2-D tensor or two axes`);
    return elementwiseNorm(x, opts as NormOptions);
  }
  const rows = axes === null ? 0 : normalizeAxis(axes[0]!, t.ndim, "linalg.norm");
  const cols = axes === null ? 1 : normalizeAxis(axes[1]!, t.ndim, "linalg.norm");
  if (rows === cols) throw new ValueError(`linalg.norm: the two matrix axes must differ, got [${rows}, ${cols}]`);
  const batchAxes = t.shape.map((_, i) => i).filter((i) => i !== rows && i !== cols);
  const batchShape = batchAxes.map((i) => t.shape[i]!);
  const count = batchShape.reduce((a, b) => a * b, 1);
  const [m, n] = [t.shape[rows]!, t.shape[cols]!];
  if (Math.min(m, n) === 0 || count === 0) {
    if (ord === -2 && count > 0) {
      throw new ValueError(
        `linalg.norm: ord -2 (the smallest singular value) is undefined for an empty matrix (shape ${fmt(t.shape)})`,
      );
    }
    // The zero map: its spectral and nuclear norms are 0, as its Frobenius norm (which has the batch shape).
    return elementwiseNorm(t, { axis: [rows, cols], keepdims: opts.keepdims ?? false });
  }
  const matrices = reshape(transpose(t, [...batchAxes, rows, cols]), [count, m, n]);
  const reduce = SPECTRAL[ord];
  const values = split(matrices, count).map((a) => reduce(svdvals(reshape(a, [m, n]))));
  const out = reshape(stack(values), batchShape);
  return opts.keepdims
    ? expandDims(
        out,
        [rows, cols].sort((a, b) => a - b),
      )
    : out;
}

/**
 * `eigh`: the differentiable symmetric eigendecomposition.
 * @module
 */
import { customCall, type CustomRule } from "../../core/custom.js";
import { DifferentiationError } from "../../core/errors.js";
import { Tensor, eye, type TensorLike } from "../../core/tensor.js";
import { add, mul } from "../../core/ops/elementwise.js";
import { matmul } from "../../core/ops/matmul.js";
import { sum } from "../../core/ops/reduce.js";
import { reshape, transpose } from "../../core/ops/shape.js";
import { elementNote } from "../../core/element-values.js";
import { inverseGaps, matrixArg, symmetricPart, symmetrize } from "./checks.js";
import { eighKernel } from "./kernels.js";

/**
 * Eigenvalues (ascending) and orthonormal eigenvectors (the columns of `eigenvectors`) of the symmetric part
 * (A + Aᵀ)/2 of a square matrix, so that A = V·diag(w)·Vᵀ for a symmetric A. Computed by Householder
 * tridiagonalisation and implicit QR steps (errors near eps·‖A‖; see `eighKernel`).
 *
 * Derivatives (for distinct eigenvalues): with F = Vᵀ·sym(dA)·V, dw = diag(F) and dV = V·(E ∘ F) where
 * Eᵢⱼ = 1/(wⱼ − wᵢ) off the diagonal and 0 on it; the reverse rule is Ā = sym(V·(diag(w̄) + E ∘ (Vᵀ·V̄))·Vᵀ), a
 * symmetric cotangent. The eigenvector derivative does not exist at repeated eigenvalues: asking for it there
 * throws a `DifferentiationError` (reverse mode through the eigenvalues alone stays defined). Each eigenvector's
 * sign is whatever the algorithm produced; its derivative keeps that sign fixed.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "diffopt";
 * const { eigenvalues, eigenvectors } = linalg.eigh(tensor([[2, 1], [1, 2]]));
 * eigenvalues.toArray();  // [1, 3]
 * eigenvectors.shape;     // [2, 2]
 * ```
 */
export function eigh(a: TensorLike): { eigenvalues: Tensor; eigenvectors: Tensor } {
  const { t, n } = matrixArg(a, "eigh", "A", true);
  const rule: CustomRule<undefined> = {
    name: "eigh",
    primal([av]) {
      const { w, v } = eighKernel(symmetricPart(av!.raw, n), n);
      return { outs: [new Tensor(w, [n]), new Tensor(v, [n, n])], res: undefined };
    },
    residuals() {
      return undefined;
    },
    jvp(_primals, [ta], [w, v]) {
      const f = matmul(matmul(transpose(v!, [1, 0]), symmetrize(ta!)), v!);
      const dw = sum(mul(f, eye(n)), { axis: 1 });
      const dv = matmul(v!, mul(gapInverse(w!, n), f));
      return [dw, dv];
    },
    vjp(_primals, [w, v], [wBar, vBar]) {
      if (wBar === null && vBar === null) return [null];
      let k: Tensor | null = wBar === null ? null : mul(eye(n), reshape(wBar, [1, n]));
      if (vBar !== null) {
        const vv = mul(gapInverse(w!, n), matmul(transpose(v!, [1, 0]), vBar));
        k = k === null ? vv : add(k, vv);
      }
      return [symmetrize(matmul(matmul(v!, k!), transpose(v!, [1, 0])))];
    },
  };
  const [w, v] = customCall(rule, [t]);
  return { eigenvalues: w!, eigenvectors: v! };
}

/** E with Eᵢⱼ = 1/(wⱼ − wᵢ) off the diagonal; throws on repeated eigenvalues. */
function gapInverse(w: Tensor, n: number): Tensor {
  return inverseGaps(
    w,
    n,
    (i, values, element) =>
      new DifferentiationError(
        `eigh: the eigenvector derivative is undefined for repeated eigenvalues (w[${i - 1}] = ${values[i - 1]}, w[${i}] = ${values[i]})${elementNote(element)}`,
      ),
  );
}

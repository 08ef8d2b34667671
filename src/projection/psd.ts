/**
 * Projection onto the cone of positive semidefinite matrices.
 * @module
 */
import { customCall, type CustomRule } from "../core/custom.js";
import { ShapeError } from "../core/errors.js";
import { abs, add, div, greater, lessEqual, mul, relu, sub, where } from "../core/ops/elementwise.js";
import { broadcastTo } from "../core/ops/broadcast.js";
import { max } from "../core/ops/reduce.js";
import { reshape } from "../core/ops/shape.js";
import { matmul, matrixTranspose } from "../core/ops/matmul.js";
import { fmt } from "../core/shape.js";
import { Tensor, type TensorLike } from "../core/tensor.js";
import { eigh } from "../linalg/dense/eigh.js";
import { eighKernel } from "../linalg/dense/kernels.js";
import { symmetricPart as symmetricPartArray } from "../linalg/dense/checks.js";
import { finiteTensor } from "./checks.js";

/** The eigenvectors V and the Daleckii–Krein divided differences Γ of max(λ, 0). */
interface Spectral {
  V: Tensor;
  VT: Tensor;
  gamma: Tensor;
}

/** Γᵢⱼ = (max(λᵢ,0) − max(λⱼ,0))/(λᵢ − λⱼ), or 1[λᵢ > 0] when λᵢ = λⱼ (to rounding), with ops. */
function dividedDifferences(w: Tensor): Tensor {
  const n = w.size;
  // Entirely with ops (the closeness test too), so that it holds per element under vmap.
  const diff = sub(reshape(w, [n, 1]), reshape(w, [1, n]));
  const closeMask = lessEqual(abs(diff), mul(max(abs(w)), 1e-12));
  const slope = broadcastTo(reshape(greater(w, 0), [n, 1]), [n, n]);
  const r = relu(w);
  const num = sub(reshape(r, [n, 1]), reshape(r, [1, n]));
  return where(closeMask, slope, div(num, where(closeMask, 1, diff)));
}

function symmetricPart(x: Tensor): Tensor {
  return mul(add(x, matrixTranspose(x)), 0.5);
}

/** The derivative map M ↦ V (Γ ∘ (Vᵀ sym(M) V)) Vᵀ: self-adjoint, so it serves as JVP and VJP. */
function daleckiiKrein(m: Tensor, { V, VT, gamma }: Spectral): Tensor {
  return matmul(V, matmul(mul(gamma, matmul(VT, matmul(symmetricPart(m), V))), VT));
}

const psdRule: CustomRule<Spectral> = {
  name: "projection.psdCone",
  primal([x]) {
    const n = x!.shape[0]!;
    const { w, v } = eighKernel(symmetricPartArray(x!.raw, n), n);
    const out = new Float64Array(n * n);
    for (let k = 0; k < n; k++) {
      const lam = w[k]!;
      if (lam <= 0) continue;
      for (let i = 0; i < n; i++) {
        const vik = lam * v[i * n + k]!;
        if (vik === 0) continue;
        for (let j = 0; j < n; j++) out[i * n + j]! += vik * v[j * n + k]!;
      }
    }
    // Symmetrise exactly (the sum above is symmetric up to rounding).
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) {
        const s = 0.5 * out[i * n + j]! + 0.5 * out[j * n + i]!;
        out[i * n + j] = s;
        out[j * n + i] = s;
      }
    }
    let scale = 0;
    for (let k = 0; k < n; k++) scale = Math.max(scale, Math.abs(w[k]!));
    const gamma = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const li = w[i]!;
        const lj = w[j]!;
        gamma[i * n + j] =
          Math.abs(li - lj) > 1e-12 * scale ? (Math.max(li, 0) - Math.max(lj, 0)) / (li - lj) : li > 0 ? 1 : 0;
      }
    }
    const V = new Tensor(v, [n, n]);
    return { outs: [new Tensor(out, [n, n])], res: { V, VT: matrixTranspose(V), gamma: new Tensor(gamma, [n, n]) } };
  },
  residuals([x]) {
    // Under a nested transform X is traced at lower levels: V and Γ must carry its derivatives, so they come
    // from the differentiable eigh and Γ is written with ops of the eigenvalues.
    const { eigenvalues, eigenvectors } = eigh(x!);
    return { V: eigenvectors, VT: matrixTranspose(eigenvectors), gamma: dividedDifferences(eigenvalues) };
  },
  jvp(_primals, [t], _outs, res) {
    return [daleckiiKrein(t!, res)];
  },
  vjp(_primals, _outs, [ct], res) {
    return [ct === null ? null : daleckiiKrein(ct, res)];
  },
};

/**
 * Projection onto the positive semidefinite cone in the Frobenius norm: with sym(X) = V diag(λ) Vᵀ, the result
 * is V diag(max(λ, 0)) Vᵀ (a non-symmetric X is projected through its symmetric part). The eigendecomposition
 * is a cyclic Jacobi method. The derivative is the Daleckii–Krein formula
 * dP = V (Γ ∘ (Vᵀ sym(dX) V)) Vᵀ with Γᵢⱼ = (max(λᵢ,0) − max(λⱼ,0))/(λᵢ − λⱼ) (and 1[λᵢ > 0] when λᵢ = λⱼ),
 * exact away from zero eigenvalues, in forward and reverse mode. Under nested transforms (second derivatives)
 * V and Γ come from the differentiable `linalg.eigh`, which needs distinct eigenvalues (it throws a
 * `DifferentiationError` at repeated ones).
 *
 * @param X - a square matrix [n, n].
 * @example
 * ```ts
 * import { projection, tensor } from "diffopt";
 * projection.psdCone(tensor([[1, 2], [2, 1]])).toArray(); // ≈ [[1.5, 1.5], [1.5, 1.5]]
 * ```
 */
export function psdCone(X: TensorLike): Tensor {
  const t = finiteTensor(X, "projection.psdCone", "X");
  if (t.ndim !== 2 || t.shape[0] !== t.shape[1]) {
    throw new ShapeError(`projection.psdCone: X must be a square matrix, got shape ${fmt(t.shape)}`);
  }
  return customCall(psdRule, [t])[0]!;
}

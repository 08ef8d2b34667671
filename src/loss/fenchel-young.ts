/**
 * Fenchel–Young losses built from a regularised max.
 * @module
 */
import type { Tensor, TensorLike } from "../core/tensor.js";
import { sub } from "../core/ops/elementwise.js";
import { broadcastPair, dotLast, lastAxis } from "./internal.js";

/**
 * Builds the Fenchel–Young loss of a regularised max function Ω*(θ) = max_{p ∈ dom Ω} ⟨p, θ⟩ − Ω(p):
 * `loss(y, θ) = maxFun(θ) − ⟨y, θ⟩`, with ⟨·,·⟩ over the last axis (batched over leading axes; `maxFun` must
 * reduce the last axis too; y and θ must broadcast). Its gradient in θ is ∇Ω*(θ) − y. In ⟨y, θ⟩ a zero label
 * ignores an infinite score (0·(−∞) = 0), so a −∞ score masks its class out when `maxFun` does too.
 *
 * Entropy convention (as in JAXopt): the full Fenchel–Young loss is Ω*(θ) + Ω(y) − ⟨y, θ⟩; the term Ω(y) does
 * not depend on θ and is left out, so the result equals the Fenchel–Young loss (non-negative, zero iff
 * ∇Ω*(θ) = y) only when Ω(y) = 0. That holds for one-hot y with Ω the negative Shannon entropy (`maxFun` = log-sum-exp: the logistic loss),
 * not for general probability vectors y, and not for Ω = ½‖p‖² (sparsemax), where Ω(y) = ½‖y‖² —
 * {@link multiclassSparsemax} adds that term back.
 *
 * @example
 * ```ts
 * import { loss, tensor, log, sum, exp, type Tensor } from "diffopt";
 * const logsumexp = (theta: Tensor) => log(sum(exp(theta), { axis: -1 }));
 * const logistic = loss.makeFenchelYoungLoss(logsumexp);
 * logistic(tensor([1, 0]), tensor([0, 0])).item(); // log 2, as loss.multiclassLogistic
 * ```
 */
export function makeFenchelYoungLoss(
  maxFun: (theta: Tensor) => Tensor,
): (label: TensorLike, theta: TensorLike) => Tensor {
  const fn = "loss.makeFenchelYoungLoss";
  return (label, theta) => {
    const [y, t] = broadcastPair(label, theta, fn, ["label", "theta"]);
    lastAxis(t, fn, "theta");
    return sub(maxFun(t), dotLast(y, t));
  };
}

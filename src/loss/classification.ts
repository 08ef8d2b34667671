/**
 * Classification losses on labels and logits (scores), in JAXopt's conventions. Binary losses are elementwise
 * (labels in [0, 1], logits broadcast against them); multiclass losses reduce the last axis of the logits and
 * are batched over the leading axes, with labels given either as integer classes (one axis fewer than the
 * logits) or as one-hot / probability rows (the shape of the logits).
 *
 * Infinite logits give the limits of the losses, with finite gradients: a binary loss at z = ±∞ is 0 when the
 * label agrees and +∞ otherwise, and a multiclass logit −∞ masks its class out (it gets no probability, and a
 * label with no mass on it ignores it). Products 0·∞ are taken as their limit 0 (`mulLimit`).
 * @module
 */
import { ValueError } from "../core/errors.js";
import { Tensor, asTensor, type TensorLike } from "../core/tensor.js";
import { elementNote, forEachElement } from "../core/element-values.js";
import {
  add,
  clip,
  mul,
  neg,
  relu,
  softplus,
  square,
  sub,
  where,
  lessEqual,
  greaterEqual,
} from "../core/ops/elementwise.js";
import { max } from "../core/ops/reduce.js";
import { logsumexp } from "../core/ops/softmax.js";
import { maskableRows } from "../projection/checks.js";
import { simplex } from "../projection/simplex.js";
import { broadcastPair, dotLast, labelsAsOneHot, lastAxis, mulLimit } from "./internal.js";

/**
 * @internal Binary labels (values in [0, 1]) and logits, as tensors that broadcast together; the errors name the
 * loss and the argument.
 */
function binaryArgs(label: TensorLike, logit: TensorLike, fn: string, logitName = "logit"): [Tensor, Tensor] {
  const [y, z] = broadcastPair(label, logit, fn, ["label", logitName]);
  forEachElement(y, (d, e) => {
    for (let i = 0; i < d.length; i++) {
      if (!(d[i]! >= 0 && d[i]! <= 1))
        throw new ValueError(`${fn}: label must lie in [0, 1], got ${d[i]} at flat index ${i}${elementNote(e)}`);
    }
  });
  return [y, z];
}

/**
 * @internal The binary Fenchel–Young loss φ(z) − y·z of a conjugate φ with φ(z) − z = φ(−z) (softplus, sparse
 * plus), written as φ(−z) + (1 − y)·z for z ≥ 0 and φ(z) − y·z for z < 0: no cancellation between two large
 * terms, and at z = ±∞ the limits (0 when the label agrees, +∞ otherwise) with the finite gradient φ'(z) − y.
 * Each branch sees z only on its own side (the other side gets 0), so neither forms ∞ − ∞ in any derivative.
 */
function binaryFenchelYoung(phi: (z: Tensor) => Tensor, y: Tensor, z: Tensor): Tensor {
  const nonNegative = greaterEqual(z, 0);
  const zPos = where(nonNegative, z, 0);
  const zNeg = where(nonNegative, 0, z);
  return where(nonNegative, add(phi(neg(zPos)), mulLimit(sub(1, y), zPos)), sub(phi(zNeg), mulLimit(y, zNeg)));
}

/** @internal Logits as a tensor with a non-empty last axis. */
function logitsTensor(logits: TensorLike, fn: string): Tensor {
  const t = asTensor(logits);
  const [rows, k] = lastAxis(t, fn, "logits");
  // −∞ masks a class out; a row masking every class has no distribution (its loss would be ∞ − ∞).
  forEachElement(t, (d, e) => {
    for (let r = 0; r < rows; r++) {
      let masked = true;
      for (let i = r * k; i < (r + 1) * k && masked; i++) masked = d[i] === -Infinity;
      if (masked) {
        throw new ValueError(`${fn}: logits row ${r}${elementNote(e)} is −∞ everywhere, which masks every class`);
      }
    }
  });
  return t;
}

/**
 * Binary logistic loss softplus(z) − y·z (the negative log-likelihood of a Bernoulli with logit z), for labels
 * y ∈ [0, 1]; stable for large |z|, and at z = ±∞ the limits (loss(1, +∞) = 0, loss(0, +∞) = +∞). Its gradient
 * in z is σ(z) − y, finite everywhere.
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.binaryLogistic(tensor([1, 0]), tensor([0, 0])).toArray(); // [0.6931…, 0.6931…]
 * loss.binaryLogistic(tensor(1), tensor(Infinity)).item(); // 0
 * loss.binaryLogistic(tensor(0), tensor(Infinity)).item() === Infinity; // true
 * ```
 */
export function binaryLogistic(label: TensorLike, logit: TensorLike): Tensor {
  const [y, z] = binaryArgs(label, logit, "loss.binaryLogistic");
  return binaryFenchelYoung(softplus, y, z);
}

/**
 * Multiclass logistic (softmax cross-entropy) loss logsumexp(θ) − ⟨y, θ⟩ over the last axis of the logits θ,
 * for integer classes or one-hot / probability labels y. Its gradient in θ is softmax(θ) − y. A logit −∞ masks
 * its class out (loss(0, [0, 0, −∞]) = log 2, gradient 0 there); with mass on such a class the loss is +∞.
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.multiclassLogistic(tensor(0), tensor([0, 0])).item(); // log 2 = 0.6931…
 * loss.multiclassLogistic(tensor([1, 0]), tensor([[0, 1], [2, 0]])).shape; // [2]
 * loss.multiclassLogistic(tensor(0), tensor([0, 0, -Infinity])).item(); // log 2 = 0.6931…
 * ```
 */
export function multiclassLogistic(label: TensorLike, logits: TensorLike): Tensor {
  const fn = "loss.multiclassLogistic";
  const theta = logitsTensor(logits, fn);
  const y = labelsAsOneHot(label, theta, fn);
  return sub(logsumexp(theta, { axis: -1 }), dotLast(y, theta));
}

/**
 * Binary hinge loss max(0, 1 − s·z) with the signed label s = 2y − 1, for labels y ∈ {0, 1} (values in
 * between interpolate the sign).
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.hinge(tensor([1, 0, 1]), tensor([2, 0.5, 0])).toArray(); // [0, 1.5, 1]
 * ```
 */
export function hinge(label: TensorLike, score: TensorLike): Tensor {
  const [y, z] = binaryArgs(label, score, "loss.hinge", "score");
  const s = sub(mul(y, 2), 1);
  return relu(sub(1, mulLimit(s, z)));
}

/**
 * Multiclass hinge (Crammer–Singer) loss maxⱼ (θⱼ + 1 − yⱼ) − ⟨y, θ⟩ over the last axis, for integer classes
 * or one-hot labels y. Zero when the true class wins by a margin of at least 1.
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.multiclassHinge(tensor(0), tensor([3, 1])).item();   // 0
 * loss.multiclassHinge(tensor(0), tensor([1, 1.5])).item(); // 1.5
 * ```
 */
export function multiclassHinge(label: TensorLike, scores: TensorLike): Tensor {
  const fn = "loss.multiclassHinge";
  const theta = logitsTensor(scores, fn);
  const y = labelsAsOneHot(label, theta, fn);
  return sub(max(sub(add(theta, 1), y), { axis: -1 }), dotLast(y, theta));
}

/**
 * The "sparse plus" function, the binary counterpart of softplus for sparsemax: 0 for x ≤ −1, (x + 1)²/4 on
 * (−1, 1), x for x ≥ 1. The quadratic piece sees x clipped to [−1, 1], so that at x = ±∞ no derivative of the
 * unused piece forms 0·∞.
 */
function sparsePlus(x: Tensor): Tensor {
  const quadratic = mul(square(add(clip(x, -1, 1), 1)), 0.25);
  return where(lessEqual(x, -1), 0, where(greaterEqual(x, 1), x, quadratic));
}

/**
 * Binary sparsemax loss sparseplus(z) − y·z for labels y ∈ [0, 1], where sparseplus is 0 below −1, (z + 1)²/4
 * on (−1, 1) and z above 1. Its gradient in z is the sparse sigmoid clip((z + 1)/2, 0, 1) − y; the loss is
 * exactly zero once the label's side wins by a margin of 1 (for y ∈ {0, 1}), including at z = ±∞.
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.sparsemax(tensor([1, 1, 0]), tensor([2, 0, 0])).toArray(); // [0, 0.25, 0.25]
 * ```
 */
export function sparsemax(label: TensorLike, logit: TensorLike): Tensor {
  const [y, z] = binaryArgs(label, logit, "loss.sparsemax");
  return binaryFenchelYoung(sparsePlus, y, z);
}

/**
 * Multiclass sparsemax loss, the Fenchel–Young loss of Ω(p) = ½‖p‖² on the simplex:
 * ⟨p*, θ⟩ − ½‖p*‖² + ½‖y‖² − ⟨y, θ⟩ with p* = sparsemax(θ), the Euclidean projection of θ onto the simplex.
 * Non-negative, zero iff sparsemax(θ) = y; its gradient in θ is sparsemax(θ) − y. A logit −∞ masks its class out
 * (it gets no mass); NaN and +∞ logits throw, as in `projection.simplex`.
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.multiclassSparsemax(tensor(0), tensor([2, 0])).item(); // 0
 * loss.multiclassSparsemax(tensor(0), tensor([0, 0])).item(); // 0.25
 * ```
 */
export function multiclassSparsemax(label: TensorLike, scores: TensorLike): Tensor {
  const fn = "loss.multiclassSparsemax";
  const theta = maskableRows(logitsTensor(scores, fn), fn, "scores");
  const y = labelsAsOneHot(label, theta, fn);
  const p = simplex(theta);
  const conjugate = sub(dotLast(p, theta), mul(dotLast(p, p), 0.5));
  return add(sub(conjugate, dotLast(y, theta)), mul(dotLast(y, y), 0.5));
}

/**
 * Binary perceptron loss max(0, −s·z) with the signed label s = 2y − 1, for labels y ∈ {0, 1}.
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.perceptron(tensor([1, 0]), tensor([-2, -1])).toArray(); // [2, 0]
 * ```
 */
export function perceptron(label: TensorLike, score: TensorLike): Tensor {
  const [y, z] = binaryArgs(label, score, "loss.perceptron", "score");
  const s = sub(mul(y, 2), 1);
  return relu(neg(mulLimit(s, z)));
}

/**
 * Multiclass perceptron loss maxⱼ θⱼ − ⟨y, θ⟩ over the last axis, for integer classes or one-hot labels.
 *
 * @example
 * ```ts
 * import { loss, tensor } from "diffopt";
 * loss.multiclassPerceptron(tensor(1), tensor([3, 1])).item(); // 2
 * ```
 */
export function multiclassPerceptron(label: TensorLike, scores: TensorLike): Tensor {
  const fn = "loss.multiclassPerceptron";
  const theta = logitsTensor(scores, fn);
  const y = labelsAsOneHot(label, theta, fn);
  return sub(max(theta, { axis: -1 }), dotLast(y, theta));
}

/**
 * Losses on labels and logits, in JAXopt's conventions: per-sample functions, elementwise for binary losses
 * and over the last axis (batched over the leading axes) for multiclass ones. All are written with
 * differentiable ops in stable forms (softplus, shifted log-sum-exp), so they can be differentiated to any
 * order by every transform.
 *
 * @example
 * ```ts
 * import { loss, grad, tensor } from "diffopt";
 * grad((z) => loss.binaryLogistic(tensor(1), z))(tensor(0)).item(); // σ(0) − 1 = −0.5
 * ```
 * @module
 */
export {
  binaryLogistic,
  multiclassLogistic,
  hinge,
  multiclassHinge,
  sparsemax,
  multiclassSparsemax,
  perceptron,
  multiclassPerceptron,
} from "./classification.js";
export { huber } from "./regression.js";
export { makeFenchelYoungLoss } from "./fenchel-young.js";

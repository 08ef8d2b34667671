/**
 * Not an example itself: the multiclass SVM hyperparameter problem of the paper, shared by the mirror-descent
 * and block coordinate-descent examples: noisy (non-separable) synthetic data, the dual objective over a product of
 * simplices, and the outer validation loss of the primal weights.
 */
import { Tensor, matmul, objective, random, square, sub, sum, tensor, zeros } from "../src/index.js";

/** A seeded problem with m training samples, p features and k classes; labels are noisy linear ones. */
export function svmProblem(m: number, p: number, k: number, seed = 0) {
  const [kx, kw, kn, kv, kvn] = random.split(random.key(seed), 5);
  const X = random.normal(kx!, [m, p]).div(Math.sqrt(p));
  const Wtrue = random.normal(kw!, [p, k]);
  const oneHot = (scores: Tensor) => {
    const out = zeros(scores.shape).toFloat64Array();
    for (let i = 0; i < scores.shape[0]!; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (scores.data[i * k + j]! > scores.data[i * k + best]!) best = j;
      out[i * k + best] = 1;
    }
    return tensor(out, scores.shape);
  };
  // noise of the size of the signal: the classes overlap
  const Y = oneHot(matmul(X, Wtrue).add(random.normal(kn!, [m, k])));
  const Xval = random.normal(kv!, [m, p]).div(Math.sqrt(p));
  const Yval = oneHot(matmul(Xval, Wtrue).add(random.normal(kvn!, [m, k])));
  const data: [Tensor, Tensor] = [X, Y];
  const init = tensor(new Float64Array(m * k).fill(1 / k), [m, k]);
  /** ½‖X_val W(β, θ) − Y_val‖² with the primal weights W = Xᵀ(Y − β)/θ. */
  const outer = (beta: Tensor, theta: Tensor) =>
    sum(square(sub(matmul(Xval, objective.svmDualPrimalWeights(beta, theta, data)), Yval))).mul(0.5);
  return { data, init, outer };
}

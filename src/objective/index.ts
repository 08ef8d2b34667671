/**
 * Objective functions of (params, ...data) returning a scalar, as in JAXopt's `objective` module: ready-made
 * inner problems for the solvers and for implicit differentiation. `data` is a pair `[X, y]` with samples
 * along the first axis of X.
 *
 * @example
 * ```ts
 * import { objective, GradientDescent, tensor } from "diffopt";
 * const X = tensor([[1, 0], [0, 2], [1, 1]]);
 * const y = tensor([1, 2, 3]);
 * const solver = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.5 });
 * solver.run(tensor([0, 0]), tensor(0.1), [X, y]).params; // the ridge solution
 * ```
 * @module
 */
export * from "./regression.js";
export * from "./classification.js";
export * from "./svm.js";
export * from "./composite.js";

/**
 * The registry of the paper's experiments: every export of this module is an `Experiment`, and the runner runs
 * them all (in the order of their names). Adding an experiment is one line here.
 */
export { jacobianPrecision } from "./jacobian-precision.js";
export { svmHpo } from "./svm-hpo.js";
export { molecularDynamics } from "./molecular-dynamics.js";
export { distillation } from "./distillation.js";
export { dictionaryLearning } from "./dictionary-learning.js";

/**
 * `Solver.run` under `vmap`: every batch element solved on its own, with its own state.
 *
 * A solver's loop reads plain numbers (stopping tests, line searches, step sizes chosen per iteration), and each
 * element of a batch (one regularisation strength, one data set, one initialisation) takes its own number of
 * iterations and may fail on its own. So `run` on batched arguments runs the whole solver once per element on that
 * element's values (`batchLoop`), each run differentiated as usual (implicitly, or by unrolling), and stacks the
 * solutions into a batched result. The state keeps every element's fields (`state.batch`), and its scalar fields
 * are those of the worst element, so that a check of `state.status` cannot miss a failed element. An element that
 * throws (a divergence with `throwOnDiverge`) is named by its index in the error; with `throwOnDiverge: false` it
 * gets status "diverged" and the other elements are unaffected.
 *
 * @module
 */
import { DiffoptError } from "../core/errors.js";
import { batchLoop } from "../core/vmap.js";
import { flatten, type Tree } from "../core/tree.js";
import { batchAtTop } from "../implicit/backward-batch.js";
import type { SolverState, SolverStatus } from "./base.js";

/**
 * The states of a batched run (`state.batch` after `run` under `vmap`): one entry per batch element, in order.
 *
 * @example
 * ```ts
 * import { vmap, GradientDescent, objective, tensor, type Tensor, type BatchStates } from "diffopt";
 * const solver = new GradientDescent({ fun: objective.ridgeRegression, stepsize: 0.2, tol: 1e-8 });
 * const data = [tensor([[1, 0], [0, 2]]), tensor([1, 2])];
 * let states: BatchStates | undefined;
 * vmap((lam: Tensor) => {
 *   const { params, state } = solver.run(tensor([0, 0]), lam, data);
 *   states = state.batch;
 *   return params;
 * })(tensor([0.1, 1]));
 * console.log(states!.status); // ["converged", "converged"]
 * ```
 */
export interface BatchStates<S extends SolverState = SolverState> {
  /** Updates taken by each element. */
  iterNum: number[];
  /** Final error of each element. */
  error: number[];
  /** Final status of each element. */
  status: SolverStatus[];
  /** Indices of the elements whose status is not "converged". */
  failed: number[];
  /** Every element's full state (solver-specific fields included). */
  elements: S[];
}

/**
 * @internal `run` of `solver` on `init, ...args` when a `vmap` level is on top of them: each element run by
 * `runOne` (the solver's own `run` on plain values), the solutions stacked. Undefined when not under `vmap`.
 */
export function batchedRun<S extends SolverState>(
  name: string,
  runOne: (init: Tree, args: Tree[]) => { params: Tree; state: S },
  init: Tree,
  args: readonly Tree[],
): { params: Tree; state: S & { batch: BatchStates<S> } } | undefined {
  const top = batchAtTop(flatten([init, ...args])[0]);
  if (top === null) return undefined;
  const { size } = top;
  const states: S[] = [];
  const params = batchLoop(
    name,
    (x0: Tree, ...a: Tree[]) => {
      const element = states.length;
      try {
        const r = runOne(x0, a);
        states.push(r.state);
        return r.params;
      } catch (e) {
        if (e instanceof DiffoptError && size > 0) {
          e.message = `${name}.run under vmap, batch element ${element} of ${size}: ${e.message}`;
        }
        throw e;
      }
    },
    [init, ...args],
  ) as Tree;
  // A batch of 0 runs once on zeros to learn the shapes: that state is no element's.
  const elements = states.slice(0, size);
  const batch: BatchStates<S> = {
    iterNum: elements.map((s) => s.iterNum),
    error: elements.map((s) => s.error),
    status: elements.map((s) => s.status),
    failed: elements.flatMap((s, i) => (s.status === "converged" ? [] : [i])),
    elements,
  };
  return { params, state: { ...worst(elements, states[0]!), batch } };
}

/** The first element that did not converge, else the one with the largest error. */
function worst<S extends SolverState>(elements: readonly S[], fallback: S): S {
  const failed = elements.find((s) => s.status !== "converged");
  if (failed !== undefined) return failed;
  return elements.reduce((w, s) => (s.error > w.error ? s : w), elements[0] ?? fallback);
}

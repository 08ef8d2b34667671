/**
 * `Solver.run` under `vmap`: every batch element solved, each with its own state, its own number of iterations and
 * its own failure; the arithmetic batched where the solver's update allows it.
 *
 * ## Two paths
 * Each element of a batch (one regularisation strength, one data set, one initialisation) takes its own number of
 * iterations and may fail on its own, and a solver's loop reads plain numbers (the stopping test, a line search).
 * - **Batched updates** ({@link batchedUpdates}): when the solver's update is plain tensor arithmetic (it provides a
 *   {@link TensorUpdate}), every iteration is *one* update vmapped over the stacked states of the elements still
 *   running, so a sweep over 100 regularisation strengths costs one batched gradient per iteration instead of 100.
 *   The loop's rules are applied per element from the batched error, value and iterate: an element leaves the
 *   working set when it converges, reaches `maxIter` or diverges, and keeps the state it had then (the working set
 *   is compacted rather than masked with `where`, so a finished element costs nothing, and a diverged one cannot
 *   feed NaNs to the batched kernels). All working elements share the iteration number, so step-size schedules and
 *   Nesterov's momentum sequence stay plain numbers. `init` is batched too when it is arithmetic; when it
 *   checks values (`MirrorDescent`'s interior start) or fails, it runs per element, as in the loop.
 * - **Per-element loop** ({@link batchedRun}): the whole solver once per element on that element's values, each
 *   run differentiated as usual.
 *
 * The batched path is taken when all of these hold, otherwise the loop (both give every element the same
 * iterations, error, status and solution, to rounding):
 * - the solver's update is arithmetic: `GradientDescent`, `ProximalGradient` and `ProjectedGradient` with a
 *   `stepsize` (fixed or a schedule; without one each update runs a line search on numbers), `MirrorDescent`
 *   with a `stepsize` (without one it backtracks on numbers too), and `FixedPointIteration`. `AndersonAcceleration` (and `AndersonWrapper`) loop: their mixing weights come from
 *   a small least-squares solve whose size grows with the history and which branches on the residuals' scale;
 * - `implicitDiff` is true (the default): the batched forward runs on plain values and the batched solution is
 *   handed to `customRoot` as its (plain) result, so each element gets its implicit derivative exactly as the
 *   loop's solutions do, in every nesting (`vmap(grad(·))`, `grad(vmap(·))`, `jacfwd`).
 *   Unrolled derivatives (`implicitDiff: false`) must trace every iteration of every element, so they loop;
 * - no `callback` and no `verbose` (both are per-element, per-iteration calls);
 * - one `vmap` level among the arguments, with at least one element (nested `vmap`s loop over the outer levels and
 *   batch the innermost; a batch of 0 loops, which learns the output shapes);
 * - the objective batches: an objective or prox that reads numbers throws a `BatchingError` under `vmap`, and the
 *   run then falls back to the loop.
 *
 * ## State and failures (both paths)
 * The state keeps every element's fields (`state.batch`), and its scalar fields are those of the worst element, so
 * that a check of `state.status` cannot miss a failed element. An element that throws (a divergence with
 * `throwOnDiverge`) is named by its index in the error ("batch element i of n"), and it is the error the loop
 * would raise: that of the lowest-index element that throws (the batched path finishes the elements below it
 * first). With `throwOnDiverge: false` it gets status "diverged" and the other elements are unaffected.
 *
 * @module
 */
import { DifferentiationError, DiffoptError, BatchingError } from "../core/errors.js";
import { batchLoop, moveBatchAxis, vmap } from "../core/vmap.js";
import { batchTracer } from "../core/engine.js";
import { Tensor, TraceKind, isBatched, tensor } from "../core/tensor.js";
import { stack } from "../core/ops/join.js";
import { stopGradient } from "../core/transforms.js";
import { flatten, unflatten, type Tree, type TreeDef } from "../core/tree.js";
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
        throw size > 0 ? namedElement(name, element, size, e) : e;
      }
    },
    [init, ...args],
  ) as Tree;
  // A batch of 0 runs once on zeros to learn the shapes: that state is no element's.
  return { params, state: summary(states.slice(0, size), states[0]!) };
}

/** `e` (a library error) with the element that raised it named in its message. */
function namedElement(name: string, element: number, size: number, e: unknown): unknown {
  if (e instanceof DiffoptError)
    e.message = `${name}.run under vmap, batch element ${element} of ${size}: ${e.message}`;
  return e;
}

/** The state of a batched run: the worst element's fields, and every element's in `batch`. */
function summary<S extends SolverState>(elements: S[], fallback: S): S & { batch: BatchStates<S> } {
  const batch: BatchStates<S> = {
    iterNum: elements.map((s) => s.iterNum),
    error: elements.map((s) => s.error),
    status: elements.map((s) => s.status),
    failed: elements.flatMap((s, i) => (s.status === "converged" ? [] : [i])),
    elements,
  };
  return { ...worst(elements, fallback), batch };
}

/** The first element that did not converge, else the one with the largest error. */
function worst<S extends SolverState>(elements: readonly S[], fallback: S): S {
  const failed = elements.find((s) => s.status !== "converged");
  if (failed !== undefined) return failed;
  return elements.reduce((w, s) => (s.error > w.error ? s : w), elements[0] ?? fallback);
}

// ---------------------------------------------------------------------------------------------------------
// Batched updates

/**
 * @internal A solver state with its number fields (all but `iterNum`) as 0-d tensors, so that an update written
 * with ops can compute them for a whole batch at once (which fields: {@link TensorUpdate.scalars}).
 */
export type TensorState<S> = {
  [P in keyof S]: P extends "iterNum" ? S[P] : S[P] extends number ? Tensor : S[P];
};

/** @internal A solver's update (and init) written with ops only, which `vmap` batches. */
export interface TensorUpdate<S extends SolverState> {
  /** The number fields of the state (all but `iterNum`), carried as 0-d tensors. */
  readonly scalars: readonly string[];
  /**
   * The initial state (`iterNum` 0, status "maxIterReached") with ops only; absent when `init` reads values (a
   * check), and then it runs per element.
   */
  init?(x0: Tree, args: readonly Tree[]): TensorState<S>;
  /**
   * One update: no number is read from the iterate, the state or the arguments; `state.iterNum` is a plain number
   * (the same for every working element, so a step-size schedule stays a number).
   */
  update(params: Tree, state: TensorState<S>, args: readonly Tree[]): { params: Tree; state: TensorState<S> };
}

/** @internal `state` with its number fields `keys` as 0-d tensors. */
export function tensorFields<S extends SolverState>(state: S, keys: readonly string[]): TensorState<S> {
  const out = { ...state } as Record<string, unknown>;
  for (const k of keys) out[k] = tensor(out[k] as number);
  return out as TensorState<S>;
}

/** @internal The inverse of {@link tensorFields}: the fields `keys` read back as numbers (no derivative). */
export function numberFields<S extends SolverState>(state: TensorState<S>, keys: readonly string[]): S {
  const out = { ...state } as Record<string, unknown>;
  for (const k of keys) out[k] = stopGradient(out[k] as Tensor).item();
  return out as S;
}

/** @internal What {@link batchedUpdates} needs of the solver besides its update: the loop's rules. */
export interface LoopRules<S extends SolverState> {
  readonly maxIter: number;
  /** The solver's `init` on one element's plain values, with its status set (throws as the loop's would). */
  init(x0: Tree, args: Tree[]): S;
  /** The status after an update, by the loop's rule (throws a `NonFiniteError` on divergence if asked to). */
  status(state: SolverState, paramsFinite: boolean): SolverStatus;
}

/** The message of a run whose solution depends on a differentiated value the objective closes over. */
export function closedOverMessage(name: string): string {
  return `${name}: the solution depends on a value being differentiated that the objective closes over; pass it as an argument of run (after init) so that the implicit derivative sees it`;
}

/** @internal True when a leaf of `args` carries a derivative level (a `vmap` level alone is no derivative). */
export function differentiated(args: readonly Tree[]): boolean {
  return flatten(args as Tree)[0].some((t) => {
    for (let u: Tensor | null = t; u !== null && u.level > 0; u = u.primal) if (u.kind !== TraceKind.Batch) return true;
    return false;
  });
}

/** Row `b` of a plain tensor stacked along axis 0. */
function row(t: Tensor, b: number): Tensor {
  const n = t.size / t.shape[0]!;
  return new Tensor(t.raw.subarray(b * n, (b + 1) * n), t.shape.slice(1));
}

/** Rows `rs` of a plain tensor stacked along axis 0, as a new stacked tensor. */
function rows(t: Tensor, rs: readonly number[]): Tensor {
  const n = t.size / t.shape[0]!;
  const out = new Float64Array(rs.length * n);
  rs.forEach((r, i) => out.set(t.raw.subarray(r * n, (r + 1) * n), i * n));
  return new Tensor(out, [rs.length, ...t.shape.slice(1)]);
}

/** The carry of the batched loop: the iterate and the state's fields but `iterNum` and `status`. */
type Carry = { params: Tree; fields: { [key: string]: Tree } };

function carryOf<S extends SolverState>(params: Tree, state: TensorState<S>): Carry {
  const { iterNum: _iterNum, status: _status, ...fields } = state as TensorState<SolverState>;
  return { params, fields: fields as unknown as Carry["fields"] };
}

/**
 * @internal `run` on `init, ...args` when one `vmap` level batches them, by batched updates (see the module
 * header): plain values throughout, the solutions batched at that level. Undefined when the path does not apply
 * (not under `vmap`, nested batch levels, a batch of 0, an update that does not batch): the caller then loops.
 */
export function batchedUpdates<S extends SolverState>(
  name: string,
  update: TensorUpdate<S>,
  rules: LoopRules<S>,
  init: Tree,
  args: readonly Tree[],
): { params: Tree; state: S & { batch: BatchStates<S> } } | undefined {
  if (!flatten([init, ...args] as Tree)[0].some(isBatched)) return undefined;
  const [leaves, def] = flatten(stopGradient([init, ...args] as Tree));
  const top = batchAtTop(leaves);
  if (top === null || top.size === 0) return undefined;
  const { level, size } = top;
  if (leaves.some((l) => l.level > 0 && (l.level !== level || l.primal!.level > 0))) return undefined;
  const stacked = leaves.map((l) => (l.level === level ? moveBatchAxis(l.primal!, l.outIndex, 0, size) : null));
  const [initLeaves, initDef] = flatten(init);
  const nInit = initLeaves.length;
  const argLeaves = leaves.slice(nInit);
  const argStacks = stacked.slice(nInit);
  const argDef = flatten([...args] as Tree)[1];
  const argAxes = argStacks.map((s) => (s ? 0 : null));
  const argsOf = (bs: readonly number[]) =>
    argLeaves.map((l, i) => (argStacks[i] ? (bs.length === size ? argStacks[i]! : rows(argStacks[i]!, bs)) : l));

  /** `fn` on one element's leaves `xs` and arguments, vmapped over the elements `bs`; undefined if it cannot batch. */
  const batched = (
    fn: (xs: Tensor[], a: Tree[]) => Tensor[],
    xs: Tensor[],
    xAxes: (number | null)[],
    bs: readonly number[],
  ): Tensor[] | undefined => {
    let out: Tensor[];
    try {
      out = vmap((...ls: Tensor[]) => fn(ls.slice(0, xs.length), unflatten<Tree[]>(argDef, ls.slice(xs.length))), {
        inAxes: [...xAxes, ...argAxes],
      })(...xs, ...argsOf(bs)) as Tensor[];
    } catch (e) {
      // The objective (or prox) reads numbers: it cannot batch, and runs per element.
      if (e instanceof BatchingError) return undefined;
      throw e;
    }
    if (out.some((l) => l.level > 0)) throw new DifferentiationError(closedOverMessage(name));
    return out;
  };

  // The lowest element that threw, and its error: the loop would have stopped there, so later ones are not run.
  let limit = size;
  let thrown: unknown;
  const fail = (b: number, e: unknown) => {
    if (b < limit) [limit, thrown] = [b, namedElement(name, b, size, e)];
  };
  const finals: { params: Tree; state: S }[] = new Array(size);
  let working: number[] = [];
  let carry: Tensor[] = [];
  let carryDef: TreeDef | undefined;

  /** Applies the loop's stopping rules to every working element at iteration k; the finished ones leave. */
  const settle = (k: number) => {
    const m = working.length;
    const { params, fields } = unflatten<Carry>(carryDef!, carry);
    const error = (fields.error as Tensor).raw;
    const value = fields.value instanceof Tensor ? fields.value.raw : undefined;
    const finite = new Array<boolean>(m).fill(true);
    for (const p of flatten(params)[0]) {
      const n = p.size / m;
      for (let i = 0; i < p.raw.length; i++) if (!Number.isFinite(p.raw[i]!)) finite[Math.floor(i / n)] = false;
    }
    const keep: number[] = [];
    for (let j = 0; j < m; j++) {
      const b = working[j]!;
      if (b >= limit) continue;
      let status: SolverStatus;
      try {
        const s: SolverState = { iterNum: k, error: error[j]!, status: "maxIterReached" };
        if (value !== undefined) s.value = value[j];
        status = rules.status(s, finite[j]!);
      } catch (e) {
        fail(b, e);
        continue;
      }
      if (status === "maxIterReached" && k < rules.maxIter) {
        keep.push(j);
        continue;
      }
      const one = unflatten<Carry>(
        carryDef!,
        carry.map((c) => row(c, j)),
      );
      const state = { ...one.fields, iterNum: k, status } as unknown as TensorState<S>;
      finals[b] = { params: one.params, state: numberFields(state, update.scalars) };
    }
    if (keep.length !== m) {
      carry = carry.map((c) => rows(c, keep));
      working = keep.map((j) => working[j]!);
    }
  };

  // init: batched when the solver's init is arithmetic; any failure is left to the per-element init, which raises
  // the loop's error for the right element.
  const everyone = Array.from({ length: size }, (_, b) => b);
  const initStacks = stacked.slice(0, nInit);
  let initCarry: Tensor[] | undefined;
  if (update.init !== undefined) {
    try {
      initCarry = batched(
        (xs, a) => {
          const x0 = unflatten(initDef, xs);
          const [l, d] = flatten(carryOf(x0, update.init!(x0, a)));
          carryDef = d;
          return l;
        },
        initStacks.map((s, i) => s ?? initLeaves[i]!),
        initStacks.map((s) => (s ? 0 : null)),
        everyone,
      );
    } catch {
      initCarry = undefined;
    }
  }
  if (initCarry !== undefined) {
    [carry, working] = [initCarry, everyone];
    settle(0);
  } else {
    const starts: Tensor[][] = [];
    for (let b = 0; b < size; b++) {
      const [x0, ...a] = unflatten<Tree[]>(
        def,
        leaves.map((l, i) => (stacked[i] ? row(stacked[i]!, b) : l)),
      );
      let state: S;
      try {
        state = rules.init(x0, a);
      } catch (e) {
        fail(b, e);
        break;
      }
      const [l, d] = flatten(carryOf(x0, tensorFields(state, update.scalars)));
      if (l.some((t) => t.level > 0)) throw new DifferentiationError(closedOverMessage(name));
      carryDef = d;
      if (state.status === "maxIterReached" && state.iterNum < rules.maxIter) {
        starts.push(l);
        working.push(b);
      } else finals[b] = { params: x0, state };
    }
    if (starts.length > 0) carry = starts[0]!.map((_, k) => stack(starts.map((l) => l[k]!)));
  }

  for (let k = 0; working.length > 0;) {
    const iterNum = k;
    const out = batched(
      (xs, a) => {
        const { params, fields } = unflatten<Carry>(carryDef!, xs);
        const state = { ...fields, iterNum, status: "maxIterReached" } as unknown as TensorState<S>;
        const r = update.update(params, state, a);
        return flatten(carryOf(r.params, r.state))[0];
      },
      carry,
      carry.map(() => 0),
      working,
    );
    if (out === undefined) return undefined;
    carry = out;
    settle((k += 1));
  }
  if (limit < size) throw thrown;

  const [first, paramsDef] = flatten(finals[0]!.params);
  const params = unflatten(
    paramsDef,
    first.map((_, k) => batchTracer(level, stack(finals.map((f) => flatten(f.params)[0][k]!)), 0)),
  );
  const elements = finals.map((f) => f.state);
  return { params, state: summary(elements, elements[0]!) };
}

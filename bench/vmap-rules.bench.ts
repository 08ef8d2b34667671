/**
 * Batching rules of issue 11, side by side with the JavaScript loop they replace: `vmap` of matrix products (one
 * GEMM for the whole batch where the batch folds into rows or columns, one GEMM per element otherwise) and of
 * linear solves with a shared matrix and a batch of right-hand sides (one factorisation and one multi-column
 * solve). Each row times `vmap(f)(batch)` and a loop of `f` over the batch's elements stacked at the end.
 */
import { Tensor, add, eye, linalg, matmul, matmulNT, mul, random, stack, take, vmap } from "../src/index.js";
import { formatTime, printTable, timeIt } from "./util.js";

type Case = [name: string, batched: () => Tensor, looped: () => Tensor];

/** `f` over a batch along axis 0 by a loop (each element sliced out, results stacked). */
function loopOver(f: (x: Tensor) => Tensor, xs: Tensor): Tensor {
  return stack(Array.from({ length: xs.shape[0]! }, (_, b) => f(take(xs, b, 0))));
}

function table(title: string, cases: readonly Case[]): void {
  const rows = cases.map(([name, batched, looped]) => {
    const tv = timeIt(batched, { minTime: 0.3 }).median;
    const tl = timeIt(looped, { minTime: 0.3 }).median;
    return [name, formatTime(tv), formatTime(tl), `${(tl / tv).toFixed(1)}×`];
  });
  printTable(title, ["case", "vmap", "loop", "loop / vmap"], rows);
}

function matmulCases(): Case[] {
  const keys = random.split(random.key(11), 8);
  const cases: Case[] = [];
  // A batch of inputs times one weight matrix: the batch folds into the rows of one GEMM.
  for (const [b, m, k, n] of [
    [1000, 1, 100, 10],
    [200, 20, 20, 20],
    [32, 64, 64, 64],
  ] as const) {
    const xs = random.normal(keys[0]!, [b, m, k]);
    const w = random.normal(keys[1]!, [k, n]);
    const f = (x: Tensor) => matmul(x, w);
    cases.push([`X[b]·W, b=${b}, ${m}×${k}·${k}×${n}`, () => vmap(f)(xs) as Tensor, () => loopOver(f, xs)]);
  }
  // One matrix times a batch of vectors (batched matrix–vector products): the batch becomes the columns of a GEMM.
  for (const [b, m, k] of [
    [1000, 50, 50],
    [200, 200, 200],
  ] as const) {
    const a = random.normal(keys[2]!, [m, k]);
    const vs = random.normal(keys[3]!, [b, k]);
    const f = (v: Tensor) => matmul(a, v);
    cases.push([`A·v[b], b=${b}, ${m}×${k}`, () => vmap(f)(vs) as Tensor, () => loopOver(f, vs)]);
  }
  // A·Bᵀ with a batch of B: the batch folds into B's rows without a copy.
  const a = random.normal(keys[4]!, [30, 20]);
  const bs = random.normal(keys[5]!, [500, 10, 20]);
  const g = (x: Tensor) => matmulNT(a, x);
  cases.push(["A·B[b]ᵀ, b=500, 30×20·(10×20)ᵀ", () => vmap(g)(bs) as Tensor, () => loopOver(g, bs)]);
  // Both sides batched: one GEMM per element either way (the rule saves the JavaScript dispatch only).
  const xs = random.normal(keys[6]!, [500, 8, 8]);
  const ys = random.normal(keys[7]!, [500, 8, 8]);
  cases.push([
    "X[b]·Y[b], b=500, 8×8",
    () => vmap(matmul)(xs, ys) as Tensor,
    () => stack(Array.from({ length: 500 }, (_, i) => matmul(take(xs, i, 0), take(ys, i, 0)))),
  ]);
  return cases;
}

function solveCases(): Case[] {
  const keys = random.split(random.key(12), 3);
  const cases: Case[] = [];
  for (const [n, b] of [
    [50, 200],
    [200, 100],
  ] as const) {
    const x = random.normal(keys[0]!, [n, n]);
    const a = add(matmul(x, x.transpose()), mul(eye(n), n));
    const rhs = random.normal(keys[1]!, [b, n]);
    const solve = (v: Tensor) => linalg.solve(a, v);
    cases.push([`solve(A, b[k]), n=${n}, ${b} rhs`, () => vmap(solve)(rhs) as Tensor, () => loopOver(solve, rhs)]);
    const op = linalg.LinearOperator.fromMatrix(a, { symmetric: true, positiveDefinite: true });
    const ls = (v: Tensor) => linalg.linearSolve(op, v).value as Tensor;
    cases.push([`linearSolve (cholesky), n=${n}, ${b} rhs`, () => vmap(ls)(rhs) as Tensor, () => loopOver(ls, rhs)]);
  }
  return cases;
}

export async function run(): Promise<void> {
  table("vmap of matrix products vs a loop", matmulCases());
  table("vmap of linear solves with a shared matrix (batch of right-hand sides) vs a loop", solveCases());
}

/**
 * The reference every vmap test compares against: the JavaScript loop that `vmap` replaces, run on concrete
 * slices (no vmap involved), its results stacked and moved to the requested output axis.
 */
import { Tensor, add, moveAxis, mul, square, stack, sum, tensor, vdot, type Tree } from "../src/index.js";
import { assertClose } from "./helpers.js";

/** Element `b` of `x` along axis `axis`, as a fresh concrete tensor (built from plain numbers). */
export function elementAt(x: Tensor, axis: number, b: number): Tensor {
  const moved = moveAxis(x, axis, 0);
  const n = moved.size / moved.shape[0]!;
  return tensor(moved.data.slice(b * n, (b + 1) * n), moved.shape.slice(1));
}

/**
 * `f` applied element by element: argument i sliced along `inAxes[i]` (null: passed whole), outputs (one tensor
 * or a list) stacked along `outAxis`.
 */
export function loopRef(
  f: (...xs: Tensor[]) => Tensor | Tensor[],
  args: Tensor[],
  inAxes: (number | null)[],
  outAxis = 0,
): Tensor | Tensor[] {
  const i0 = inAxes.findIndex((a) => a !== null);
  const ax0 = inAxes[i0]!;
  const size = args[i0]!.shape[ax0 < 0 ? ax0 + args[i0]!.ndim : ax0]!;
  const outs: (Tensor | Tensor[])[] = [];
  for (let b = 0; b < size; b++) {
    outs.push(f(...args.map((x, i) => (inAxes[i] === null ? x : elementAt(x, inAxes[i]!, b)))));
  }
  const gather = (pick: (o: Tensor | Tensor[]) => Tensor) => moveAxis(stack(outs.map(pick)), 0, outAxis);
  return Array.isArray(outs[0])
    ? outs[0].map((_, k) => gather((o) => (o as Tensor[])[k]!))
    : gather((o) => o as Tensor);
}

/** Asserts two pytrees of tensors agree (shapes and values, to `rtol`). */
export function assertTreeClose(actual: Tree, expected: Tree, rtol = 1e-12, msg = ""): void {
  if (actual instanceof Tensor) {
    assertClose(actual, expected as Tensor, { rtol, atol: rtol }, msg);
    return;
  }
  const a = actual as Tree[];
  const e = expected as Tree[];
  a.forEach((x, i) => assertTreeClose(x, e[i]!, rtol, `${msg}[${i}]`));
}

/**
 * The small ridge problem of the implicit-layer vmap tests: w*(λ) = (XᵀX + diag λ)⁻¹Xᵀy with one strength per
 * coordinate, and a loss of w that weighs its coordinates differently.
 */
export const ridge = {
  X: tensor([
    [1, 2, 0],
    [0.5, -1, 1],
    [2, 0.3, -0.5],
    [-1, 1, 0.2],
    [0.3, 0.1, 1.5],
  ]),
  y: tensor([1, -2, 0.5, 3, 0.7]),
  /** ⟨w, (1, 3, −2)⟩ + ½‖w‖². */
  loss: (w: Tensor): Tensor => add(vdot(w, tensor([1, 3, -2])), mul(0.5, sum(square(w)))),
};

/**
 * The computations of the page's second panel, free of DOM code: three convex sets of the plane, the projection
 * of a point onto each, its Jacobian and the Jacobian's action on a direction.
 */
import { jacrev, jvp, projection, tensor, type Tensor } from "../src/index.js";
import type { Point } from "./canvas.js";

/** The outline of a set, for drawing. */
export type Outline =
  | { readonly kind: "segment"; readonly from: Point; readonly to: Point }
  | { readonly kind: "disc"; readonly radius: number }
  | { readonly kind: "rectangle"; readonly lower: Point; readonly upper: Point };

/** A closed convex set of the plane with its Euclidean projection. */
export interface ConvexSet {
  readonly name: string;
  readonly description: string;
  readonly outline: Outline;
  project(x: Tensor): Tensor;
}

const BOX_LOWER: Point = [-1, -0.5];
const BOX_UPPER: Point = [1.5, 1];

/** The sets offered, by the value of their radio button. */
export const SETS = {
  simplex: {
    name: "simplex",
    description: "{p ≥ 0, p₁ + p₂ = 1}: projection.simplex",
    outline: { kind: "segment", from: [1, 0], to: [0, 1] },
    project: (x: Tensor) => projection.simplex(x),
  },
  l2Ball: {
    name: "ℓ2 ball",
    description: "{‖p‖₂ ≤ 1}: projection.l2Ball",
    outline: { kind: "disc", radius: 1 },
    project: (x: Tensor) => projection.l2Ball(x, 1),
  },
  box: {
    name: "box",
    description: `[${BOX_LOWER[0]}, ${BOX_UPPER[0]}] × [${BOX_LOWER[1]}, ${BOX_UPPER[1]}]: projection.box`,
    outline: { kind: "rectangle", lower: BOX_LOWER, upper: BOX_UPPER },
    project: (x: Tensor) => projection.box(x, tensor([...BOX_LOWER]), tensor([...BOX_UPPER])),
  },
} satisfies Record<string, ConvexSet>;

/** Names of the sets offered. */
export type SetName = keyof typeof SETS;

/** True for the names of {@link SETS}. */
export function isSetName(name: string): name is SetName {
  return Object.hasOwn(SETS, name);
}

/** What the panel shows for one point and direction. */
export interface ProjectionResult {
  /** P(x). */
  readonly projected: Point;
  /** The Jacobian ∂P/∂x at x, by reverse mode (rows are outputs). */
  readonly jacobian: readonly [Point, Point];
  /** J v, by forward mode. */
  readonly jacobianTimesDirection: Point;
}

function asPoint(t: Tensor): Point {
  return [t.data[0]!, t.data[1]!];
}

/** The projection of `point` onto `set`, its Jacobian, and the Jacobian applied to `direction`. */
export function analyseProjection(set: ConvexSet, point: Point, direction: Point): ProjectionResult {
  const x = tensor([...point]);
  const [projected, jv] = jvp((v: Tensor) => set.project(v), [x], [tensor([...direction])]);
  const jacobian = jacrev((v: Tensor) => set.project(v))(x) as Tensor;
  return {
    projected: asPoint(projected),
    jacobian: [
      [jacobian.data[0]!, jacobian.data[1]!],
      [jacobian.data[2]!, jacobian.data[3]!],
    ],
    jacobianTimesDirection: asPoint(jv),
  };
}

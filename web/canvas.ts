/** Small 2-D canvas helpers for the page: a world-to-pixel view, axes, arrows. */

/** A point in world coordinates. */
export type Point = readonly [number, number];

/** Colours shared by both panels (kept in step with style.css). */
export const COLORS = {
  grid: "#e6e8ee",
  axis: "#9aa1b1",
  text: "#4a5063",
  set: "rgba(61, 110, 224, 0.14)",
  setEdge: "#3d6ee0",
  point: "#1d2433",
  projection: "#e0703d",
  direction: "#7b8194",
  jacobian: "#c0307a",
  curve: "#3d6ee0",
  tangent: "#e0703d",
} as const;

/**
 * Sizes the canvas's backing store to its CSS size times the device pixel ratio (sharp lines on HiDPI screens)
 * and returns a context that draws in CSS pixels.
 */
export function prepareCanvas(canvas: HTMLCanvasElement): {
  ctx: CanvasRenderingContext2D;
  width: number;
  height: number;
} {
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new Error("prepareCanvas: this browser has no 2-D canvas context");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

/** An affine map from the world box [x0, x1] × [y0, y1] to a canvas area, y pointing up. */
export class View {
  constructor(
    readonly x0: number,
    readonly x1: number,
    readonly y0: number,
    readonly y1: number,
    readonly left: number,
    readonly top: number,
    readonly width: number,
    readonly height: number,
  ) {}

  /** Pixel coordinates of a world point. */
  toPixel([x, y]: Point): Point {
    return [
      this.left + ((x - this.x0) / (this.x1 - this.x0)) * this.width,
      this.top + ((this.y1 - y) / (this.y1 - this.y0)) * this.height,
    ];
  }

  /** World coordinates of a pixel. */
  toWorld([px, py]: Point): Point {
    return [
      this.x0 + ((px - this.left) / this.width) * (this.x1 - this.x0),
      this.y1 - ((py - this.top) / this.height) * (this.y1 - this.y0),
    ];
  }

  /** Pixels per world unit along x. */
  get scale(): number {
    return this.width / (this.x1 - this.x0);
  }
}

/** Grid lines every `step` world units, with the axes through the origin drawn darker. */
export function drawGrid(ctx: CanvasRenderingContext2D, view: View, step: number): void {
  ctx.lineWidth = 1;
  for (let x = Math.ceil(view.x0 / step) * step; x <= view.x1 + 1e-9; x += step) {
    line(ctx, view.toPixel([x, view.y0]), view.toPixel([x, view.y1]), Math.abs(x) < 1e-9 ? COLORS.axis : COLORS.grid);
  }
  for (let y = Math.ceil(view.y0 / step) * step; y <= view.y1 + 1e-9; y += step) {
    line(ctx, view.toPixel([view.x0, y]), view.toPixel([view.x1, y]), Math.abs(y) < 1e-9 ? COLORS.axis : COLORS.grid);
  }
}

/** A straight segment in pixel coordinates. */
export function line(ctx: CanvasRenderingContext2D, from: Point, to: Point, color: string, dash: number[] = []): void {
  ctx.strokeStyle = color;
  ctx.setLineDash(dash);
  ctx.beginPath();
  ctx.moveTo(from[0], from[1]);
  ctx.lineTo(to[0], to[1]);
  ctx.stroke();
  ctx.setLineDash([]);
}

/** An arrow from `from` to `to` (pixel coordinates); nothing when shorter than a pixel. */
export function arrow(ctx: CanvasRenderingContext2D, from: Point, to: Point, color: string): void {
  const dx = to[0] - from[0];
  const dy = to[1] - from[1];
  const length = Math.hypot(dx, dy);
  if (length < 1) return;
  ctx.lineWidth = 2.5;
  line(ctx, from, to, color);
  const head = Math.min(11, length * 0.5);
  const ux = dx / length;
  const uy = dy / length;
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.moveTo(to[0], to[1]);
  ctx.lineTo(to[0] - head * ux - head * 0.45 * uy, to[1] - head * uy + head * 0.45 * ux);
  ctx.lineTo(to[0] - head * ux + head * 0.45 * uy, to[1] - head * uy - head * 0.45 * ux);
  ctx.closePath();
  ctx.fill();
}

/** A filled disc with a white rim, in pixel coordinates. */
export function dot(ctx: CanvasRenderingContext2D, at: Point, radius: number, color: string): void {
  ctx.fillStyle = color;
  ctx.strokeStyle = "#ffffff";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(at[0], at[1], radius, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
}

/** Text in the page's small label font. */
export function label(
  ctx: CanvasRenderingContext2D,
  text: string,
  at: Point,
  align: CanvasTextAlign = "left",
  color: string = COLORS.text,
): void {
  ctx.fillStyle = color;
  ctx.font = "12px system-ui, -apple-system, 'Segoe UI', sans-serif";
  ctx.textAlign = align;
  ctx.textBaseline = "middle";
  ctx.fillText(text, at[0], at[1]);
}

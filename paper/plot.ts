/**
 * SVG figures for the paper's report, with no dependency: charts (line, log-log, scatter, intervals as error
 * bars or bands, several panels side by side) and particle pictures with arrows. (The distillation experiment's
 * image grid, which embeds small PNGs, lives with that experiment.)
 *
 * Why plain SVG built by hand: the report must be one self-contained page that opens offline in a browser and
 * converts to PDF. So every text element carries its font family and size as attributes (no stylesheet, no
 * CSS-only text), colours are explicit, and the document has a white background and a viewBox so that it
 * scales. All text is XML-escaped.
 */

/** One series of a chart panel. */
export interface Series {
  /** Legend entry. */
  name: string;
  x: number[];
  y: number[];
  /** Lower and upper ends of an interval around each y (same length), drawn as error bars or a band. */
  lo?: number[];
  hi?: number[];
  /** Draw the interval as a shaded band instead of error bars (default false). */
  band?: boolean;
  /** Dashed line (default false). */
  dashed?: boolean;
  /** Connect the points with a line (default true); false gives a scatter plot. */
  line?: boolean;
  /** Mark each point with a dot (default: true when there is no line or fewer than 30 points). */
  markers?: boolean;
  /** Colour (default: the palette, in order). */
  color?: string;
}

/** One panel (set of axes) of a chart. */
export interface Panel {
  title: string;
  /** Axis labels, with units, e.g. "number of features p" and "time per hypergradient (ms)". */
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  series: Series[];
  /** Where the legend goes (default "top-right"). */
  legend?: "top-right" | "top-left" | "bottom-right" | "bottom-left";
}

/** A figure of one or more panels. */
export interface ChartSpec {
  /** Title above all panels (optional). */
  title?: string;
  panels: Panel[];
  /** Panels per row (default: all in one row). */
  columns?: number;
  /** Size of one panel in px (default 460 × 340). */
  panelWidth?: number;
  panelHeight?: number;
}

/** The palette (colour-blind friendly, distinct in grey). */
export const COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];

/** Font attributes put on every text element. */
const FONT = `font-family="DejaVu Sans, Helvetica, Arial, sans-serif"`;

/** Escapes text for XML content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function text(x: number, y: number, content: string, size: number, extra = ""): string {
  return `<text x="${r(x)}" y="${r(y)}" ${FONT} font-size="${size}" fill="#000"${extra ? " " + extra : ""}>${content}</text>`;
}

/** Coordinates rounded to 0.1 px: shorter files, no visible change. */
function r(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

function svgDocument(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`,
    ...body,
    `</svg>`,
  ].join("\n");
}

/** Renders a chart of one or more panels as a complete SVG document. */
export function chartSvg(spec: ChartSpec): string {
  const pw = spec.panelWidth ?? 460;
  const ph = spec.panelHeight ?? 340;
  const cols = Math.max(1, Math.min(spec.columns ?? spec.panels.length, spec.panels.length));
  const rows = Math.ceil(spec.panels.length / cols);
  const top = spec.title ? 30 : 0;
  const width = pw * cols;
  const height = top + ph * rows;
  const body: string[] = [];
  if (spec.title) body.push(text(width / 2, 21, escapeXml(spec.title), 15, `text-anchor="middle" font-weight="bold"`));
  spec.panels.forEach((panel, i) => {
    const ox = (i % cols) * pw;
    const oy = top + Math.floor(i / cols) * ph;
    body.push(`<g transform="translate(${ox},${oy})">`, ...panelBody(panel, pw, ph), `</g>`);
  });
  return svgDocument(width, height, body);
}

/** A transform of one axis: data value → position in [0, 1] of the axis range. */
interface Axis {
  log: boolean;
  lo: number;
  hi: number;
  ticks: { value: number; label: string }[];
}

function axisOf(values: number[], log: boolean): Axis {
  const v = values.filter((x) => Number.isFinite(x) && (!log || x > 0));
  if (v.length === 0) return { log, lo: log ? 0 : 0, hi: 1, ticks: [] };
  let lo = Math.min(...v);
  let hi = Math.max(...v);
  if (log) {
    lo = Math.log10(lo);
    hi = Math.log10(hi);
    if (hi - lo < 1) {
      const mid = (hi + lo) / 2;
      [lo, hi] = [mid - 0.5, mid + 0.5];
    }
    const [a, b] = [Math.floor(lo + 1e-9), Math.ceil(hi - 1e-9)];
    const step = Math.max(1, Math.ceil((b - a) / 8));
    const ticks: Axis["ticks"] = [];
    for (let e = a; e <= b; e += step) ticks.push({ value: e, label: powerOfTen(e) });
    // between decades only 2 and 5, when the range is short
    if (b - a <= 2) {
      for (let e = a - 1; e <= b; e++)
        for (const m of [2, 5]) ticks.push({ value: e + Math.log10(m), label: formatNumber(m * 10 ** e) });
    }
    return { log, lo: Math.min(lo, a), hi: Math.max(hi, b), ticks: ticks.filter((t) => t.value >= a && t.value <= b) };
  }
  if (hi === lo) [lo, hi] = [lo - (Math.abs(lo) || 1) * 0.5, hi + (Math.abs(hi) || 1) * 0.5];
  const pad = (hi - lo) * 0.05;
  [lo, hi] = [lo - pad, hi + pad];
  const raw = (hi - lo) / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: Axis["ticks"] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    const value = Math.abs(t) < step * 1e-9 ? 0 : t;
    ticks.push({ value, label: formatNumber(value) });
  }
  return { log, lo, hi, ticks };
}

function powerOfTen(e: number): string {
  if (e === 0) return "1";
  if (e === 1) return "10";
  return `10<tspan dy="-6" font-size="9">${e}</tspan>`;
}

/** A short number for tick labels and tables: 3 significant digits, exponent form when very large or small. */
export function formatNumber(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

function panelBody(panel: Panel, pw: number, ph: number): string[] {
  const m = { l: 72, r: 16, t: 30, b: 50 };
  const xs = panel.series.flatMap((s) => s.x);
  const ys = panel.series.flatMap((s) => [...s.y, ...(s.lo ?? []), ...(s.hi ?? [])]);
  const ax = axisOf(xs, panel.logX ?? false);
  const ay = axisOf(ys, panel.logY ?? false);
  const tx = (v: number) => (ax.log ? Math.log10(v) : v);
  const ty = (v: number) => (ay.log ? Math.log10(v) : v);
  const px = (v: number) => m.l + ((tx(v) - ax.lo) / (ax.hi - ax.lo || 1)) * (pw - m.l - m.r);
  const py = (v: number) => ph - m.b - ((ty(v) - ay.lo) / (ay.hi - ay.lo || 1)) * (ph - m.t - m.b);
  const pyRaw = (t: number) => ph - m.b - ((t - ay.lo) / (ay.hi - ay.lo || 1)) * (ph - m.t - m.b);
  const pxRaw = (t: number) => m.l + ((t - ax.lo) / (ax.hi - ax.lo || 1)) * (pw - m.l - m.r);
  const ok = (x: number, y: number) =>
    Number.isFinite(x) && Number.isFinite(y) && (!ax.log || x > 0) && (!ay.log || y > 0);
  const out: string[] = [];
  out.push(text(pw / 2, 18, escapeXml(panel.title), 13, `text-anchor="middle" font-weight="bold"`));
  for (const t of ay.ticks) {
    const y = pyRaw(t.value);
    out.push(`<line x1="${m.l}" y1="${r(y)}" x2="${pw - m.r}" y2="${r(y)}" stroke="#e0e0e0" stroke-width="1"/>`);
    out.push(text(m.l - 6, y + 4, t.label, 11, `text-anchor="end"`));
  }
  for (const t of ax.ticks) {
    const x = pxRaw(t.value);
    out.push(`<line x1="${r(x)}" y1="${m.t}" x2="${r(x)}" y2="${ph - m.b}" stroke="#f0f0f0" stroke-width="1"/>`);
    out.push(`<line x1="${r(x)}" y1="${ph - m.b}" x2="${r(x)}" y2="${ph - m.b + 4}" stroke="#000" stroke-width="1"/>`);
    out.push(text(x, ph - m.b + 17, t.label, 11, `text-anchor="middle"`));
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw - m.l - m.r}" height="${ph - m.t - m.b}" fill="none" stroke="#000" stroke-width="1"/>`,
  );
  out.push(text((m.l + pw - m.r) / 2, ph - 12, escapeXml(panel.xLabel), 12, `text-anchor="middle"`));
  const cy = (m.t + ph - m.b) / 2;
  out.push(text(16, cy, escapeXml(panel.yLabel), 12, `text-anchor="middle" transform="rotate(-90 16 ${r(cy)})"`));
  panel.series.forEach((s, i) => {
    const c = s.color ?? COLORS[i % COLORS.length]!;
    const idx = s.x.map((_, k) => k).filter((k) => ok(s.x[k]!, s.y[k]!));
    if (s.lo && s.hi) {
      const iv = idx.filter((k) => ok(s.x[k]!, s.lo![k]!) && ok(s.x[k]!, s.hi![k]!));
      if (s.band && iv.length > 1) {
        const upper = iv.map((k) => `${r(px(s.x[k]!))},${r(py(s.hi![k]!))}`);
        const lower = iv.map((k) => `${r(px(s.x[k]!))},${r(py(s.lo![k]!))}`).reverse();
        out.push(`<polygon points="${[...upper, ...lower].join(" ")}" fill="${c}" fill-opacity="0.18" stroke="none"/>`);
      } else {
        for (const k of iv) {
          const x = r(px(s.x[k]!));
          const [y0, y1] = [r(py(s.lo![k]!)), r(py(s.hi![k]!))];
          out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y1}" stroke="${c}" stroke-width="1.5"/>`);
          for (const y of [y0, y1])
            out.push(
              `<line x1="${r(px(s.x[k]!) - 4)}" y1="${y}" x2="${r(px(s.x[k]!) + 4)}" y2="${y}" stroke="${c}" stroke-width="1.5"/>`,
            );
        }
      }
    }
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    if ((s.line ?? true) && idx.length > 1) {
      const pts = idx.map((k) => `${r(px(s.x[k]!))},${r(py(s.y[k]!))}`).join(" ");
      out.push(`<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"${dash}/>`);
    }
    if (s.markers ?? (!(s.line ?? true) || idx.length < 30)) {
      for (const k of idx) out.push(`<circle cx="${r(px(s.x[k]!))}" cy="${r(py(s.y[k]!))}" r="3" fill="${c}"/>`);
    }
  });
  out.push(...legend(panel, pw, ph, m));
  return out;
}

function legend(panel: Panel, pw: number, ph: number, m: { l: number; r: number; t: number; b: number }): string[] {
  const where = panel.legend ?? "top-right";
  const rowH = 16;
  const longest = Math.max(...panel.series.map((s) => s.name.length), 1);
  const w = Math.min(pw - m.l - m.r - 8, 34 + longest * 6.6);
  const h = panel.series.length * rowH + 6;
  const x0 = where.endsWith("right") ? pw - m.r - w - 4 : m.l + 4;
  const y0 = where.startsWith("top") ? m.t + 4 : ph - m.b - h - 4;
  const out = [
    `<rect x="${r(x0)}" y="${r(y0)}" width="${r(w)}" height="${h}" fill="#fff" fill-opacity="0.85" stroke="#999" stroke-width="0.5"/>`,
  ];
  panel.series.forEach((s, i) => {
    const c = s.color ?? COLORS[i % COLORS.length]!;
    const y = y0 + 11 + i * rowH;
    if (s.line ?? true) {
      const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
      out.push(
        `<line x1="${r(x0 + 6)}" y1="${r(y)}" x2="${r(x0 + 28)}" y2="${r(y)}" stroke="${c}" stroke-width="2"${dash}/>`,
      );
    } else out.push(`<circle cx="${r(x0 + 17)}" cy="${r(y)}" r="3" fill="${c}"/>`);
    out.push(text(x0 + 33, y + 4, escapeXml(s.name), 11));
  });
  return out;
}

/** A disc of a particle picture. */
export interface Disc {
  x: number;
  y: number;
  radius: number;
  /** Fill colour (default light grey). */
  fill?: string;
}

/** An arrow from (x, y) along (dx, dy), in data units (after the picture's arrow scale). */
export interface Arrow {
  x: number;
  y: number;
  dx: number;
  dy: number;
  color?: string;
}

/** A particle picture in a square periodic box [0, box)². */
export interface ParticleSpec {
  title: string;
  box: number;
  discs: Disc[];
  arrows: Arrow[];
  /** Arrow lengths are multiplied by this (default 1); say so in the legend text. */
  arrowScale?: number;
  /** Lines of legend text under the picture. */
  legend?: string[];
  /** Side of the square picture in px (default 560). */
  size?: number;
}

/**
 * Discs (wrapped into the periodic box, drawn again across an edge they overlap) and arrows, e.g. the positions
 * of a packing and their sensitivity field.
 */
export function particleSvg(spec: ParticleSpec): string {
  const size = spec.size ?? 560;
  const m = 20;
  const top = 30;
  const legendLines = spec.legend ?? [];
  const height = top + size + m + legendLines.length * 16;
  const s = (size - 2 * m) / spec.box;
  const X = (x: number) => m + x * s;
  const Y = (y: number) => top + size - m - y * s;
  const wrap = (v: number) => v - spec.box * Math.floor(v / spec.box);
  // ids unique per picture: several pictures are inlined into one HTML page
  const id = `particles-${idHash(spec.title)}`;
  const body: string[] = [text(size / 2, 21, escapeXml(spec.title), 14, `text-anchor="middle" font-weight="bold"`)];
  body.push(
    `<defs><clipPath id="${id}-box"><rect x="${m}" y="${top + m}" width="${size - 2 * m}" height="${size - 2 * m}"/></clipPath>`,
  );
  body.push(
    `<marker id="${id}-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c00000"/></marker></defs>`,
  );
  body.push(`<g clip-path="url(#${id}-box)">`);
  for (const d of spec.discs) {
    const cx = wrap(d.x);
    const cy = wrap(d.y);
    for (const ox of [-1, 0, 1])
      for (const oy of [-1, 0, 1]) {
        const x = cx + ox * spec.box;
        const y = cy + oy * spec.box;
        if (x + d.radius < 0 || x - d.radius > spec.box || y + d.radius < 0 || y - d.radius > spec.box) continue;
        body.push(
          `<circle cx="${r(X(x))}" cy="${r(Y(y))}" r="${r(d.radius * s)}" fill="${d.fill ?? "#d9d9d9"}" stroke="#555" stroke-width="0.6"/>`,
        );
      }
  }
  body.push(`</g>`);
  body.push(
    `<rect x="${m}" y="${top + m}" width="${size - 2 * m}" height="${size - 2 * m}" fill="none" stroke="#000" stroke-width="1"/>`,
  );
  const k = spec.arrowScale ?? 1;
  for (const a of spec.arrows) {
    const [x0, y0] = [wrap(a.x), wrap(a.y)];
    const len = Math.hypot(a.dx, a.dy) * k * s;
    if (!(len > 0.5)) continue;
    body.push(
      `<line x1="${r(X(x0))}" y1="${r(Y(y0))}" x2="${r(X(x0 + a.dx * k))}" y2="${r(Y(y0 + a.dy * k))}" stroke="${a.color ?? "#c00000"}" stroke-width="1.4" marker-end="url(#${id}-head)"/>`,
    );
  }
  legendLines.forEach((line, i) => body.push(text(m, top + size + 4 + i * 16, escapeXml(line), 12)));
  return svgDocument(size, height, body);
}

/** A short stable hash of a string (FNV-1a), for element ids. */
function idHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36);
}

/**
 * A grid of grey-level images as an SVG document, for the distillation experiment's pictures. Each image is
 * embedded as a small PNG (a data URI) rather than one rectangle per pixel: 28×28 pixels cost about a kilobyte
 * instead of a few hundred, and browsers, PDF exporters and SVG viewers all draw <image> elements.
 */
import { deflateSync } from "node:zlib";

/** CRC-32 (polynomial 0xEDB88320) of PNG chunks. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** An 8-bit greyscale PNG of `pixels` (row-major, 0 = black, 255 = white). */
export function greyPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 0; // colour type: greyscale
  const raw = new Uint8Array(height * (width + 1)); // each row: filter type 0, then the pixels
  for (let r = 0; r < height; r++) raw.set(pixels.subarray(r * width, (r + 1) * width), r * (width + 1) + 1);
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", header),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    png.set(p, o);
    o += p.length;
  }
  return png;
}

/** Maps an image's values linearly to grey levels, its smallest value white and its largest black. */
function toGrey(values: ArrayLike<number>): Uint8Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]!);
    hi = Math.max(hi, values[i]!);
  }
  const span = hi - lo || 1;
  return Uint8Array.from({ length: values.length }, (_, i) => Math.round(255 * (1 - (values[i]! - lo) / span)));
}

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Rows of square images with a caption above each, as an SVG document. */
export interface ImageGridSpec {
  title: string;
  /** One row of images per entry; every image has `size × size` values, row-major. */
  rows: { label: string; images: ArrayLike<number>[] }[];
  /** Caption above each column. */
  columnLabels: string[];
  /** Side of an image in pixels of data (28 for Fashion-MNIST). */
  size: number;
  /** Side of an image in the drawing (default 72). */
  cell?: number;
}

/** Draws `spec`: each image scaled to its own range (smallest value white, largest black). */
export function imageGridSvg(spec: ImageGridSpec): string {
  const cell = spec.cell ?? 72;
  const gap = 8;
  const left = 110;
  const top = 56;
  const cols = Math.max(...spec.rows.map((r) => r.images.length));
  const W = left + cols * (cell + gap) + gap;
  const H = top + spec.rows.length * (cell + gap) + gap;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(spec.title)}</text>`,
  ];
  spec.columnLabels.forEach((label, j) => {
    const x = left + j * (cell + gap) + cell / 2;
    parts.push(`<text x="${x}" y="${top - 8}" text-anchor="middle">${escapeXml(label)}</text>`);
  });
  spec.rows.forEach((row, i) => {
    const y = top + i * (cell + gap);
    parts.push(`<text x="${left - 8}" y="${y + cell / 2 + 4}" text-anchor="end">${escapeXml(row.label)}</text>`);
    row.images.forEach((img, j) => {
      const png = Buffer.from(greyPng(toGrey(img), spec.size, spec.size)).toString("base64");
      const x = left + j * (cell + gap);
      parts.push(
        `<image x="${x}" y="${y}" width="${cell}" height="${cell}" style="image-rendering:pixelated" preserveAspectRatio="none" href="data:image/png;base64,${png}"/>`,
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="none" stroke="#999"/>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("\n");
}

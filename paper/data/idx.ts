/**
 * The IDX format of the MNIST family (Fashion-MNIST included), optionally gzipped: a 4-byte magic number (two
 * zero bytes, a type code, the number of dimensions), the dimensions as big-endian 32-bit integers, then the
 * values in row-major order. Only unsigned bytes (type 0x08) are used by these data sets, so only they are read
 * and written here. Node only (node:zlib, node:fs).
 */
import { readFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { ValueError } from "../../src/index.js";

/** An IDX array of unsigned bytes: its dimensions and its values in row-major order. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** True when `bytes` starts with the gzip magic number 1f 8b. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses an IDX file's bytes (gzipped or not); throws with `source` in the message when they are not IDX. */
export function parseIdx(bytes: Uint8Array, source = "IDX data"): IdxArray {
  const raw = isGzip(bytes) ? new Uint8Array(gunzipSync(bytes)) : bytes;
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0)
    throw new ValueError(`parseIdx: ${source} does not start with the IDX magic number (0x00 0x00 type ndim)`);
  if (raw[2] !== UBYTE)
    throw new ValueError(
      `parseIdx: ${source} has element type 0x${raw[2]!.toString(16)}; only unsigned bytes (0x08) are supported`,
    );
  const ndim = raw[3]!;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const header = 4 + 4 * ndim;
  if (raw.length < header) throw new ValueError(`parseIdx: ${source} is truncated inside its header`);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const size = shape.reduce((a, b) => a * b, 1);
  if (raw.length !== header + size)
    throw new ValueError(
      `parseIdx: ${source} holds ${raw.length - header} values after its header, but its shape [${shape.join(", ")}] needs ${size}`,
    );
  return { shape, data: raw.subarray(header) };
}

/** Reads an IDX file (gzipped when its name or content says so). */
export function readIdx(path: string): IdxArray {
  return parseIdx(new Uint8Array(readFileSync(path)), path);
}

/** Encodes an unsigned-byte array as IDX bytes, gzipped unless `gzip` is false. */
export function encodeIdx(array: IdxArray, gzip = true): Uint8Array {
  const size = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== size)
    throw new ValueError(`encodeIdx: data has ${array.data.length} values but shape [${array.shape.join(", ")}] needs ${size}`);
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + size);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = array.shape.length;
  array.shape.forEach((n, i) => view.setUint32(4 + 4 * i, n, false));
  out.set(array.data, header);
  return gzip ? new Uint8Array(gzipSync(out, { level: 9 })) : out;
}

/**
 * The Breast Cancer Wisconsin (Diagnostic) data (Wolberg, Street, Mangasarian; UCI, CC BY 4.0), shipped in
 * data/breast-cancer/: 569 samples, 30 features, binary class (0 = malignant, 1 = benign).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ValueError } from "../../src/index.js";

/** Features (n × d, row-major) and binary labels. */
export interface BinaryDataset {
  X: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
}

/** Reads data/breast-cancer/breast_cancer.csv under the repository root `root`. */
export function loadBreastCancer(root: string): BinaryDataset {
  const path = join(root, "data", "breast-cancer", "breast_cancer.csv");
  const lines = readFileSync(path, "utf8").trim().split("\n");
  const [n, d] = lines[0]!.split(",").map(Number) as [number, number];
  if (lines.length !== n + 1) throw new ValueError(`loadBreastCancer: ${path} announces ${n} rows but has ${lines.length - 1}`);
  const X = new Float64Array(n * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = lines[i + 1]!.split(",").map(Number);
    if (v.length !== d + 1 || !v.every(Number.isFinite))
      throw new ValueError(`loadBreastCancer: line ${i + 2} of ${path} must hold ${d + 1} numbers`);
    X.set(v.slice(0, d), i * d);
    y[i] = v[d]!;
  }
  return { X, y, n, d };
}

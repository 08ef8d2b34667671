/**
 * Loaders for the small data sets shipped in data/ (Node only: they read files).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { slice, tensor, type Tensor } from "../src/index.js";

const dataDir = join(dirname(fileURLToPath(import.meta.url)), "..", "data");

/**
 * The diabetes regression data (442 × 10), with features centred and scaled to unit Euclidean norm (as
 * scikit-learn's `load_diabetes`) and the target centred (which stands for an intercept).
 */
export function loadDiabetes(): { X: Tensor; y: Tensor } {
  const rows = readFileSync(join(dataDir, "diabetes", "diabetes_data_raw.csv"), "utf8")
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number));
  const target = readFileSync(join(dataDir, "diabetes", "diabetes_target.csv"), "utf8")
    .trim()
    .split("\n")
    .map(Number);
  const n = rows.length;
  const d = rows[0]!.length;
  const X = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += rows[i]![j]! / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (rows[i]![j]! - mean) ** 2;
    const scale = Math.sqrt(ss);
    for (let i = 0; i < n; i++) X[i * d + j] = (rows[i]![j]! - mean) / scale;
  }
  const yMean = target.reduce((a, b) => a + b, 0) / n;
  return { X: tensor(X, [n, d]), y: tensor(Float64Array.from(target, (v) => v - yMean)) };
}

/**
 * The diabetes data split into the first `nTrain` rows (training) and the rest (validation), with the targets
 * divided by `targetScale`.
 */
export function diabetesSplit(nTrain = 300, targetScale = 1) {
  const { X, y: yRaw } = loadDiabetes();
  const y = yRaw.div(targetScale);
  return {
    X,
    Xtr: slice(X, [0, nTrain]),
    ytr: slice(y, [0, nTrain]),
    Xval: slice(X, [nTrain]),
    yval: slice(y, [nTrain]),
    d: X.shape[1]!,
  };
}

/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando Research, 2017; MIT license): 28×28 grey-level images of
 * clothing in 10 classes, 60,000 for training and 10,000 for testing, in the IDX format of MNIST.
 *
 * The full data come from the Debian package `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist). A
 * small seeded subset with the same file names is shipped in data/fashion-mnist-subset/ (made by
 * paper/fixtures/make-fashion-mnist-subset.ts), for quick runs and for machines without the package.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ValueError } from "../../src/index.js";
import { readIdx } from "./idx.js";

/** Where the Debian package `dataset-fashion-mnist` installs the data. */
export const DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist";

/** The shipped subset, relative to the repository root. */
export const SUBSET_DIR = join("data", "fashion-mnist-subset");

/** The four files of the data set, as named by the original distribution. */
export const FILES = {
  trainImages: "train-images-idx3-ubyte.gz",
  trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz",
  testLabels: "t10k-labels-idx1-ubyte.gz",
} as const;

/** Images as rows of pixels scaled to [0, 1], with their classes 0–9. */
export interface ImageSet {
  /** n × 784 pixel values in [0, 1], row-major. */
  images: Float64Array;
  labels: Int32Array;
  n: number;
}

/** The train and test sets and where they were read from. */
export interface FashionMnist {
  train: ImageSet;
  test: ImageSet;
  /** "debian": the full data set; "subset": the shipped subset. */
  source: "debian" | "subset";
  dir: string;
}

/** The class names, in label order. */
export const CLASS_NAMES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** Reads an image file and its label file from `dir`, scaling pixels to [0, 1]. */
export function readImageSet(dir: string, imagesFile: string, labelsFile: string): ImageSet {
  const img = readIdx(join(dir, imagesFile));
  const lab = readIdx(join(dir, labelsFile));
  if (img.shape.length !== 3 || img.shape[1] !== 28 || img.shape[2] !== 28)
    throw new ValueError(`readImageSet: ${imagesFile} must hold n × 28 × 28 images, got [${img.shape.join(", ")}]`);
  const n = img.shape[0]!;
  if (lab.shape.length !== 1 || lab.shape[0] !== n)
    throw new ValueError(`readImageSet: ${labelsFile} must hold ${n} labels, got shape [${lab.shape.join(", ")}]`);
  const images = new Float64Array(img.data.length);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i]! / 255;
  return { images, labels: Int32Array.from(lab.data), n };
}

/** True when the Debian package's files are all present. */
export function debianDataPresent(dir = DEBIAN_FASHION_MNIST): boolean {
  return Object.values(FILES).every((f) => existsSync(join(dir, f)));
}

/**
 * Loads Fashion-MNIST: the Debian package's full data unless `subset` is true or the package is missing (then
 * the shipped subset under `root`).
 */
export function loadFashionMnist(root: string, subset: boolean): FashionMnist {
  const useDebian = !subset && debianDataPresent();
  const dir = useDebian ? DEBIAN_FASHION_MNIST : join(root, SUBSET_DIR);
  return {
    train: readImageSet(dir, FILES.trainImages, FILES.trainLabels),
    test: readImageSet(dir, FILES.testImages, FILES.testLabels),
    source: useDebian ? "debian" : "subset",
    dir,
  };
}

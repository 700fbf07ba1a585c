/**
 * One slide's patch features, whatever file they come in: `.pt`/`.pth`, `.npy`, `.safetensors`,
 * `.h5`/`.hdf5`, `.csv`. Always [N, 1024] float32 out (512-d CONCH features widened by
 * self-concatenation), with patch coordinates [N, 2] when the file has them.
 */
import { extname } from 'node:path';
import { FormatError } from '../errors.js';
import type { FeatureCache } from './featureCache.js';
import { readOffThread } from './featureOffThread.js';
import { firstNonFinite, uninitializedBytes } from './hostMemory.js';
import { readNpy } from './npy.js';
import { readSafetensors } from './safetensors.js';
import { type StoredTensor, toFloat32 } from './storedTensor.js';
import { readTorchTensors } from './torch.js';

/** Width of the feature vectors the model takes. */
export const FEATURE_WIDTH = 1024;
/** Narrower features accepted and widened to {@link FEATURE_WIDTH} by [x, x]. */
export const NARROW_FEATURE_WIDTH = 512;
/** Keys under which a dict-shaped file holds the features, in order of preference. */
const FEATURE_KEYS = ['features', 'feature', 'feats'];
const COORDS_KEY = 'coords';

/** The file extensions {@link readSlideFeatures} reads. */
export const FEATURE_FILE_EXTENSIONS = ['.pt', '.pth', '.npy', '.safetensors', '.h5', '.hdf5', '.csv'] as const;

/** One slide's features, ready for the model. */
export interface SlideFeatures {
  /** The file they were read from. */
  path: string;
  /** Patch features [patches, 1024], row-major float32. */
  features: Float32Array;
  /** Number of patches N (after any `maxPatches` cap). */
  patches: number;
  /** Patch coordinates [patches, 2] (x, y, in the units of the file, usually level-0 pixels), when the file has them. */
  coords?: Float32Array;
}

/** Options of {@link readSlideFeatures}. */
export interface ReadSlideFeaturesOptions {
  /** Keep at most this many patches, evenly spaced over the slide (SlideChat trains with 10 240). Default: all. */
  maxPatches?: number;
  /** A cache to read through, so a slide is parsed once while it stays cached. Default: none. */
  cache?: FeatureCache;
}

/**
 * Reads one slide's patch features from `path` (format by extension) as [N, 1024] float32 plus
 * optional coordinates [N, 2]. Throws {@link FormatError} naming the file for a width other than
 * 512 or 1024, NaN or infinite values (naming the patch row), no patches, or a malformed file;
 * {@link IoError} when the file cannot be read.
 */
export async function readSlideFeatures(path: string, options: ReadSlideFeaturesOptions = {}): Promise<SlideFeatures> {
  const { maxPatches, cache } = options;
  if (maxPatches !== undefined && !(Number.isSafeInteger(maxPatches) && maxPatches > 0)) {
    throw new RangeError(`readSlideFeatures: maxPatches must be a positive integer, got ${maxPatches}`);
  }
  const load = async () => slideFromTensors(path, await readFeatureTensors(path), maxPatches);
  return cache ? cache.get(`${path}\u0000${maxPatches ?? ''}`, load) : load();
}

/** Every tensor of a feature file by name, dispatching on the extension. */
export async function readFeatureTensors(path: string): Promise<Map<string, StoredTensor>> {
  switch (extname(path).toLowerCase()) {
    case '.pt':
    case '.pth':
      return readTorchTensors(path);
    case '.npy':
      return readNpy(path);
    case '.safetensors':
      return (await readSafetensors(path)).tensors;
    case '.h5':
    case '.hdf5':
      return readOffThread('h5', path, [...FEATURE_KEYS, COORDS_KEY]);
    case '.csv':
      return readOffThread('csv', path);
    default:
      throw new FormatError(`${path}: unknown feature file type (expected one of ${FEATURE_FILE_EXTENSIONS.join(', ')})`);
  }
}

function slideFromTensors(path: string, tensors: Map<string, StoredTensor>, maxPatches: number | undefined): SlideFeatures {
  const [name, tensor] = pickFeatures(path, tensors);
  const shape = withoutLeadingOnes(tensor.shape);
  if (shape.length !== 2) throw new FormatError(`${path}: features ${name} have shape [${tensor.shape}]; expected [patches, 512 | 1024]`);
  const [patches, width] = shape;
  if (width !== FEATURE_WIDTH && width !== NARROW_FEATURE_WIDTH) {
    throw new FormatError(`${path}: feature width ${width} is not supported (expected ${NARROW_FEATURE_WIDTH} or ${FEATURE_WIDTH})`);
  }
  if (patches === 0) throw new FormatError(`${path}: the slide has no patches (N = 0)`);
  const values = toFloat32(tensor, path, name || 'features');
  const coordsTensor = tensors.get(COORDS_KEY);
  let coords: Float32Array | undefined;
  if (coordsTensor) {
    const coordsShape = withoutLeadingOnes(coordsTensor.shape);
    if (coordsShape.length !== 2 || coordsShape[0] !== patches || coordsShape[1] !== 2) {
      throw new FormatError(`${path}: coords have shape [${coordsTensor.shape}]; expected [${patches}, 2] to match the features`);
    }
    coords = toFloat32(coordsTensor, path, COORDS_KEY);
  }
  const rows = evenlySpacedRows(patches, maxPatches);
  return {
    path,
    features: finiteFeatures(values, patches, width, rows, path),
    patches: rows?.length ?? patches,
    coords: coords && rows ? pickRows(coords, 2, rows) : coords,
  };
}

/** The features tensor of a file: the top-level tensor, a preferred key, or the only tensor. */
function pickFeatures(path: string, tensors: Map<string, StoredTensor>): [string, StoredTensor] {
  for (const key of ['', ...FEATURE_KEYS]) {
    const tensor = tensors.get(key);
    if (tensor) return [key, tensor];
  }
  const others = [...tensors].filter(([name]) => name !== COORDS_KEY);
  if (others.length === 1) return others[0];
  const names = [...tensors.keys()];
  throw new FormatError(
    names.length === 0
      ? `${path}: holds no tensors`
      : `${path}: cannot tell which tensor holds the features (found ${names.join(', ')}; expected one of ${FEATURE_KEYS.join(', ')}, or a single tensor)`,
  );
}

function withoutLeadingOnes(shape: number[]): number[] {
  let start = 0;
  while (shape.length - start > 2 && shape[start] === 1) start++;
  return shape.slice(start);
}

/** Indices of `cap` rows evenly spaced over `count` (floor(i · count / cap)), or undefined when no cap applies. */
function evenlySpacedRows(count: number, cap: number | undefined): number[] | undefined {
  if (cap === undefined || count <= cap) return undefined;
  return Array.from({ length: cap }, (_, i) => Math.floor((i * count) / cap));
}

/** The given rows of a [count, width] row-major matrix, as [rows.length, width]. */
function pickRows(values: Float32Array, width: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, r) => out.set(values.subarray(row * width, (row + 1) * width), r * width));
  return out;
}

/**
 * The model's [rows, 1024] features from [patches, width] `values`: every value checked to be
 * finite (a {@link FormatError} naming the file, patch row and column), then, where needed, only
 * `rows` kept and 512-wide rows widened to 1024 by [x, x] (what existing checkpoints expect).
 * Full-width features without a cap come back as `values` itself: the check is the only pass.
 */
function finiteFeatures(values: Float32Array, patches: number, width: number, rows: number[] | undefined, path: string): Float32Array {
  const bad = firstNonFinite(values);
  if (bad >= 0) {
    const row = Math.floor(bad / width);
    throw new FormatError(`${path}: patch row ${row} (0-based) has a ${Number.isNaN(values[bad]) ? 'NaN' : 'infinite'} value at column ${bad - row * width}`);
  }
  const widen = width === NARROW_FEATURE_WIDTH;
  if (!widen && !rows) return values;
  const kept = rows?.length ?? patches;
  const out = new Float32Array(uninitializedBytes(kept * FEATURE_WIDTH * 4).buffer, 0, kept * FEATURE_WIDTH);
  for (let r = 0; r < kept; r++) {
    const from = (rows ? rows[r] : r) * width;
    const row = values.subarray(from, from + width);
    out.set(row, r * FEATURE_WIDTH);
    if (widen) out.set(row, r * FEATURE_WIDTH + NARROW_FEATURE_WIDTH);
  }
  return out;
}

/**
 * The MoE compressor's weights: made at random (PyTorch's default initialisation), read from our
 * `compressor.safetensors` or TC-SSA's `moe_best.pt`, and written back — always under TC-SSA's
 * names (`gate.weight`, `experts.{k}.net.{0,3,4}.{weight,bias}`), a wrapper's prefix stripped.
 */
import { FEATURE_WIDTH } from './io/features.js';
import { readStateDict, stateTensor, withoutPrefix, writeStateDict } from './io/stateDict.js';
import { MoeCompressor, type MoeCompressorOptions } from './moe.js';
import type { Device, DType } from './native.js';
import { mulberry32 } from './random.js';
import { Tensor } from './tensor.js';

/** Slots (slide tokens) of the default compressor, and its experts' inner width (TC-SSA's compressor). */
export const DEFAULT_SLOTS = 16;
export const EXPERT_WIDTH = 512;

/** Every compressor parameter's name and shape for K slots whose experts are `expertWidth` wide inside. */
export function compressorShapes(slots: number, expertWidth = EXPERT_WIDTH): Map<string, number[]> {
  const shapes = new Map<string, number[]>([
    ['gate.weight', [slots, FEATURE_WIDTH]],
    ['gate.bias', [slots]],
  ]);
  for (let k = 0; k < slots; k++) {
    shapes.set(`experts.${k}.net.0.weight`, [expertWidth, FEATURE_WIDTH]);
    shapes.set(`experts.${k}.net.0.bias`, [expertWidth]);
    shapes.set(`experts.${k}.net.3.weight`, [FEATURE_WIDTH, expertWidth]);
    shapes.set(`experts.${k}.net.3.bias`, [FEATURE_WIDTH]);
    shapes.set(`experts.${k}.net.4.weight`, [FEATURE_WIDTH]);
    shapes.set(`experts.${k}.net.4.bias`, [FEATURE_WIDTH]);
  }
  return shapes;
}

export type Placement = { device?: Device; dtype?: DType };

/** The size of a new compressor: K slots (default 16) and the experts' inner width (default 512). */
export interface CompressorSize {
  slots?: number;
  expertWidth?: number;
}

/** A compressor with PyTorch's default initialisation: Linear U(−1/√in, 1/√in), LayerNorm 1 and 0. */
export function randomCompressor(options: MoeCompressorOptions & Placement & CompressorSize & { seed?: number } = {}): MoeCompressor {
  const random = mulberry32(options.seed ?? 0);
  const expertWidth = options.expertWidth ?? EXPERT_WIDTH;
  if (!Number.isInteger(expertWidth) || expertWidth < 1) throw new RangeError(`a compressor's expert width must be a positive integer, got ${expertWidth}`);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of compressorShapes(options.slots ?? DEFAULT_SLOTS, expertWidth)) {
    const count = shape.reduce((a, b) => a * b, 1);
    let values: Float32Array;
    if (name.includes('.net.4.')) values = new Float32Array(count).fill(name.endsWith('weight') ? 1 : 0);
    else {
      const fanIn = name.startsWith('experts.') && name.includes('.net.3.') ? expertWidth : FEATURE_WIDTH;
      const bound = 1 / Math.sqrt(fanIn);
      values = Float32Array.from({ length: count }, () => (2 * random() - 1) * bound);
    }
    using host = Tensor.from(values, shape, { dtype: options.dtype ?? 'f32' });
    params.set(name, host.to(options.device ?? 'cpu'));
  }
  return new MoeCompressor(params, options);
}

/**
 * Reads a compressor from `.safetensors` or a PyTorch `moe_best.pt` (a classifier wrapper's
 * prefix stripped, its other tensors ignored). K comes from the gate's shape and the experts'
 * inner width from the first expert's; every tensor is then checked by name and shape.
 */
export async function loadCompressor(path: string, options: MoeCompressorOptions & Placement = {}): Promise<MoeCompressor> {
  const state = withoutPrefix(await readStateDict(path), 'gate.weight', path);
  const slots = state.get('gate.weight')!.shape[0];
  const expertWidth = state.get('experts.0.net.0.weight')?.shape[0] ?? EXPERT_WIDTH;
  const params = new Map<string, Tensor>();
  for (const [name, shape] of compressorShapes(slots, expertWidth)) params.set(name, stateTensor(state, name, shape, path, options));
  return new MoeCompressor(params, options);
}

/** Writes the compressor as f32 safetensors under TC-SSA's names, atomically. */
export async function saveCompressor(path: string, compressor: MoeCompressor): Promise<void> {
  await writeStateDict(path, compressor.params);
}

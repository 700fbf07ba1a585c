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

/** Every compressor parameter's name and shape for K slots. */
export function compressorShapes(slots: number): Map<string, number[]> {
  const shapes = new Map<string, number[]>([
    ['gate.weight', [slots, FEATURE_WIDTH]],
    ['gate.bias', [slots]],
  ]);
  for (let k = 0; k < slots; k++) {
    shapes.set(`experts.${k}.net.0.weight`, [EXPERT_WIDTH, FEATURE_WIDTH]);
    shapes.set(`experts.${k}.net.0.bias`, [EXPERT_WIDTH]);
    shapes.set(`experts.${k}.net.3.weight`, [FEATURE_WIDTH, EXPERT_WIDTH]);
    shapes.set(`experts.${k}.net.3.bias`, [FEATURE_WIDTH]);
    shapes.set(`experts.${k}.net.4.weight`, [FEATURE_WIDTH]);
    shapes.set(`experts.${k}.net.4.bias`, [FEATURE_WIDTH]);
  }
  return shapes;
}

export type Placement = { device?: Device; dtype?: DType };

/** A compressor with PyTorch's default initialisation: Linear U(−1/√in, 1/√in), LayerNorm 1 and 0. */
export function randomCompressor(options: MoeCompressorOptions & Placement & { slots?: number; seed?: number } = {}): MoeCompressor {
  const random = mulberry32(options.seed ?? 0);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of compressorShapes(options.slots ?? DEFAULT_SLOTS)) {
    const count = shape.reduce((a, b) => a * b, 1);
    let values: Float32Array;
    if (name.includes('.net.4.')) values = new Float32Array(count).fill(name.endsWith('weight') ? 1 : 0);
    else {
      const fanIn = name.startsWith('experts.') && name.includes('.net.3.') ? EXPERT_WIDTH : FEATURE_WIDTH;
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
 * prefix stripped, its other tensors ignored). K comes from the gate's shape; every expert
 * tensor is checked by name and shape.
 */
export async function loadCompressor(path: string, options: MoeCompressorOptions & Placement = {}): Promise<MoeCompressor> {
  const state = withoutPrefix(await readStateDict(path), 'gate.weight', path);
  const slots = state.get('gate.weight')!.shape[0];
  const params = new Map<string, Tensor>();
  for (const [name, shape] of compressorShapes(slots)) params.set(name, stateTensor(state, name, shape, path, options));
  return new MoeCompressor(params, options);
}

/** Writes the compressor as f32 safetensors under TC-SSA's names, atomically. */
export async function saveCompressor(path: string, compressor: MoeCompressor): Promise<void> {
  await writeStateDict(path, compressor.params);
}

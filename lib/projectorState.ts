/**
 * The projector's weights: made at random (PyTorch's default Linear initialisation), read from
 * our `projector.safetensors` or a PyTorch `projector.pt`, and written back.
 *
 * Names are those of PyTorch's `nn.Sequential(Linear, GELU, Linear)`: `0.weight`, `0.bias`,
 * `2.weight`, `2.bias`, possibly under a prefix (`mm_projector.0.weight`), which is stripped.
 */
import { FEATURE_WIDTH } from './io/features.js';
import { readStateDict, stateTensor, withoutPrefix, writeStateDict } from './io/stateDict.js';
import type { Device, DType } from './native.js';
import type { ProjectorWeights } from './projector.js';
import { mulberry32 } from './random.js';
import { Tensor } from './tensor.js';

/** The projector's inner width (SlideChat's projector: 1024 → 2048 → hidden). */
export const PROJECTOR_WIDTH = 2048;

const NAMES: Record<keyof ProjectorWeights, string> = { fc1Weight: '0.weight', fc1Bias: '0.bias', fc2Weight: '2.weight', fc2Bias: '2.bias' };

/** The shape of each projector weight for an LLM of width `hidden`. */
export function projectorShapes(hidden: number): Record<keyof ProjectorWeights, number[]> {
  return { fc1Weight: [PROJECTOR_WIDTH, FEATURE_WIDTH], fc1Bias: [PROJECTOR_WIDTH], fc2Weight: [hidden, PROJECTOR_WIDTH], fc2Bias: [hidden] };
}

/** Weights drawn like PyTorch's `nn.Linear` default: U(−1/√in, 1/√in) for the weight and the bias. */
export function randomProjector(hidden: number, seed: number, options: { device?: Device; dtype?: DType } = {}): ProjectorWeights {
  const random = mulberry32(seed);
  const shapes = projectorShapes(hidden);
  const make = (shape: number[], fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (2 * random() - 1) * bound);
    using host = Tensor.from(values, shape, { dtype: options.dtype ?? 'f32' });
    return host.to(options.device ?? 'cpu');
  };
  return {
    fc1Weight: make(shapes.fc1Weight, FEATURE_WIDTH),
    fc1Bias: make(shapes.fc1Bias, FEATURE_WIDTH),
    fc2Weight: make(shapes.fc2Weight, PROJECTOR_WIDTH),
    fc2Bias: make(shapes.fc2Bias, PROJECTOR_WIDTH),
  };
}

/** Reads a projector for an LLM of width `hidden` from `.safetensors` or a PyTorch `.pt`; names and shapes are checked. */
export async function loadProjector(path: string, hidden: number, options: { device?: Device; dtype?: DType } = {}): Promise<ProjectorWeights> {
  const state = withoutPrefix(await readStateDict(path), NAMES.fc1Weight, path);
  const shapes = projectorShapes(hidden);
  const entries = (Object.keys(NAMES) as (keyof ProjectorWeights)[]).map((key) => [key, stateTensor(state, NAMES[key], shapes[key], path, options)]);
  return Object.fromEntries(entries) as ProjectorWeights;
}

/** Writes the projector as f32 safetensors under the PyTorch names, atomically. */
export async function saveProjector(path: string, weights: ProjectorWeights): Promise<void> {
  await writeStateDict(path, projectorStateDict(weights));
}

/** The projector's tensors by their PyTorch names. */
export function projectorStateDict(weights: ProjectorWeights): Map<string, Tensor> {
  return new Map((Object.keys(NAMES) as (keyof ProjectorWeights)[]).map((key) => [NAMES[key], weights[key]]));
}

/**
 * State dicts: named weight tensors in a `.safetensors` file (ours) or a PyTorch `torch.save`
 * file (`moe_best.pt`, `projector.pt`), read without executing pickle code, and turned into
 * tensors with every name and shape checked.
 */
import { extname } from 'node:path';
import { FormatError, ShapeError } from '../errors.js';
import type { Device, DType } from '../native.js';
import { Tensor } from '../tensor.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { type StoredTensor, toFloat32 } from './storedTensor.js';
import { readTorchTensors } from './torch.js';

/** The named tensors of a weights file, by extension: `.safetensors`, or `.pt` / `.pth` / `.bin` (torch.save). */
export async function readStateDict(path: string): Promise<Map<string, StoredTensor>> {
  const extension = extname(path).toLowerCase();
  if (extension === '.safetensors') return (await readSafetensors(path)).tensors;
  if (extension === '.pt' || extension === '.pth' || extension === '.bin') return readTorchTensors(path);
  throw new FormatError(`${path}: unknown weights file type '${extension}' (expected .safetensors, .pt, .pth or .bin)`);
}

/**
 * The entries under the prefix that `anchor` is found under, with that prefix removed: a wrapper's
 * `moe.gate.weight` or `module.0.weight` gives `gate.weight` / `0.weight`. A {@link FormatError}
 * naming the file when no key is `anchor` or ends in `.anchor`.
 */
export function withoutPrefix(state: ReadonlyMap<string, StoredTensor>, anchor: string, file: string): Map<string, StoredTensor> {
  const key = [...state.keys()].find((name) => name === anchor || name.endsWith(`.${anchor}`));
  if (key === undefined) {
    throw new FormatError(`${file}: no '${anchor}' tensor (keys: ${[...state.keys()].slice(0, 8).join(', ')}${state.size > 8 ? ', …' : ''})`);
  }
  const prefix = key.slice(0, key.length - anchor.length);
  const out = new Map<string, StoredTensor>();
  for (const [name, tensor] of state) if (name.startsWith(prefix)) out.set(name.slice(prefix.length), tensor);
  return out;
}

/**
 * Tensor `name` of a state dict on `device`, checked to have `shape`: a {@link FormatError} when
 * it is missing, a {@link ShapeError} naming it and both shapes when it has another shape.
 */
export function stateTensor(
  state: ReadonlyMap<string, StoredTensor>,
  name: string,
  shape: readonly number[],
  file: string,
  options: { dtype?: DType; device?: Device } = {},
): Tensor {
  const stored = state.get(name);
  if (!stored) throw new FormatError(`${file}: tensor '${name}' is missing`);
  if (stored.shape.length !== shape.length || stored.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${file}: tensor '${name}' has shape [${stored.shape}], expected [${shape}]`);
  }
  const values = toFloat32(stored, file, name);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new FormatError(`${file}: tensor '${name}' holds ${values[bad]} at element ${bad}`);
  using host = Tensor.from(values, shape, { dtype: options.dtype ?? 'f32' });
  return host.to(options.device ?? 'cpu');
}

/** Writes named tensors as an f32 safetensors file, atomically (temp file, then rename). */
export async function writeStateDict(path: string, tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  const entries = new Map([...tensors].map(([name, t]) => [name, { dtype: 'F32' as const, shape: [...t.shape], data: () => t.toFloat32() }]));
  await writeSafetensors(path, entries, metadata);
}

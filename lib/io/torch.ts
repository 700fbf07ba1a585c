/**
 * Reading `torch.save` files (`.pt`, `.pth`): the zip format of PyTorch ≥ 1.6. The pickle inside
 * is run by the safe-subset interpreter with an allow-list of tensor-rebuilding globals only;
 * storages are read from `<prefix>/data/<key>` and every view is bounds-checked.
 */
import { FormatError } from '../errors.js';
import { readFileBytes } from './fileBytes.js';
import { NUMPY_ALLOW_LIST } from './numpyPickle.js';
import { AllowedGlobal, type PickleFactory, unpickle } from './pickle.js';
import { PickledTensor, collectPickledTensors, gatherStrided, materializeTensors } from './pickledTensor.js';
import { BYTES_PER_ELEMENT, type StoredDtype, type StoredTensor } from './storedTensor.js';
import { looksLikeZip, readStoredZipEntries } from './zipEntries.js';

/** Torch storage classes and the dtype of their elements. */
const STORAGE_DTYPES: Readonly<Record<string, StoredDtype>> = {
  'torch.FloatStorage': 'F32',
  'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16',
  'torch.DoubleStorage': 'F64',
  'torch.IntStorage': 'I32',
  'torch.LongStorage': 'I64',
};

/** A storage named by a persistent id: its dtype and its bytes in the archive. */
interface TorchStorage {
  dtype: StoredDtype;
  bytes: Uint8Array;
  key: string;
}

/** A tensor rebuilt by `torch._utils._rebuild_tensor_v2`: a view of a storage. */
class TorchTensor extends PickledTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly strides: number[],
  ) {
    super();
  }
  materialize(file: string, name: string): StoredTensor {
    const where = `${file}: tensor ${name || '(top level)'} (storage ${this.storage.key})`;
    return gatherStrided(this.storage.bytes, this.storage.dtype, this.offset, this.shape, this.strides, where);
  }
}

function rebuildTensor([storage, offset, shape, strides]: unknown[]): TorchTensor {
  if (typeof storage !== 'object' || storage === null || !('bytes' in storage)) throw new Error('tensor without a storage');
  if (!Array.isArray(shape) || !Array.isArray(strides)) throw new Error('tensor size and stride must be tuples');
  return new TorchTensor(storage as TorchStorage, offset as number, shape as number[], strides as number[]);
}

const returnFirstArgument: PickleFactory = ([data]) => data;
const storageClass: PickleFactory = () => {
  throw new Error('storage classes cannot be called');
};

/** What a `torch.save` pickle may name: tensor and parameter rebuilding, storages, ordered dicts, numpy arrays. */
const TORCH_ALLOW_LIST: ReadonlyMap<string, PickleFactory> = new Map<string, PickleFactory>([
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_parameter', returnFirstArgument],
  ['torch._utils._rebuild_parameter_with_state', returnFirstArgument],
  ['collections.OrderedDict', ([pairs]) => new Map(Array.isArray(pairs) ? (pairs as [unknown, unknown][]) : [])],
  ['torch.Size', ([dims]) => dims],
  ...Object.keys(STORAGE_DTYPES).map((name): [string, PickleFactory] => [name, storageClass]),
  ...NUMPY_ALLOW_LIST,
]);

/**
 * Every tensor of a `torch.save` file by dotted name (a state dict's keys; nested dicts and
 * lists joined with `.`; a lone top-level tensor is named `''`). Tensors come back contiguous
 * in their stored dtype (F32, F16, BF16, F64, I32, I64), whatever their storage offset and stride.
 * Throws {@link FormatError} naming the file for a refused global, a truncated or lying archive,
 * or an unsupported storage type; {@link IoError} when the file cannot be read.
 */
export async function readTorchTensors(path: string): Promise<Map<string, StoredTensor>> {
  const bytes = await readFileBytes(path);
  return materializeTensors(readTorchPickle(bytes, path), path, bytes.byteLength);
}

/** The tensors of a `torch.save` file's bytes, unpickled but not yet copied out of their storages. */
function readTorchPickle(bytes: Uint8Array, path: string): Map<string, PickledTensor> {
  if (!looksLikeZip(bytes)) {
    throw new FormatError(`${path}: not a torch.save zip archive (files from PyTorch < 1.6 or saved with _use_new_zipfile_serialization=False are not read)`);
  }
  const entries = readStoredZipEntries(bytes, path);
  const pickleNames = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickleNames.length === 0) throw new FormatError(`${path}: zip archive has no <prefix>/data.pkl: not a torch.save file`);
  if (pickleNames.length > 1) {
    throw new FormatError(`${path}: zip archive holds ${pickleNames.length} pickles (${pickleNames.slice(0, 3).join(', ')}${pickleNames.length > 3 ? ', …' : ''}): ambiguous, refused`);
  }
  const pickleName = pickleNames[0];
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const byteOrder = entries.get(`${prefix}byteorder`);
  if (byteOrder && new TextDecoder().decode(byteOrder) !== 'little') {
    throw new FormatError(`${path}: big-endian torch files are not supported`);
  }
  const storages = new Map<string, TorchStorage>();
  const loadStorage = (pid: unknown): TorchStorage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 5) throw new FormatError(`${path}: unexpected persistent id in data.pkl`);
    const [, storageType, key, , count] = pid;
    const typeName = storageType instanceof AllowedGlobal ? storageType.name : String(storageType);
    const dtype = STORAGE_DTYPES[typeName];
    if (!dtype) throw new FormatError(`${path}: storage type ${typeName} is not supported`);
    const keyText = String(key);
    const cached = storages.get(keyText);
    if (cached) return cached;
    const data = entries.get(`${prefix}data/${keyText}`);
    if (!data) throw new FormatError(`${path}: storage ${keyText} is missing from the archive`);
    const needed = Number(count) * BYTES_PER_ELEMENT[dtype];
    if (!Number.isSafeInteger(needed) || data.byteLength < needed) {
      throw new FormatError(`${path}: storage ${keyText} claims ${count} ${dtype} elements but holds ${data.byteLength} bytes`);
    }
    const storage = { dtype, bytes: data.subarray(0, needed), key: keyText };
    storages.set(keyText, storage);
    return storage;
  };
  const value = unpickle(entries.get(pickleName)!, { file: path, allow: TORCH_ALLOW_LIST, persistentLoad: loadStorage });
  return collectPickledTensors(value, path);
}

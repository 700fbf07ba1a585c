/**
 * Loads the native addon and types its surface. Everything else in the library reaches the
 * native core through {@link native}; nothing else touches the addon.
 *
 * The addon is found by node-gyp-build: `build/Release` (a local build) first, then
 * `prebuilds/<platform>-<arch>/`. `WSI_VQA_ADDON` names an exact file instead (the sanitizer
 * tests load an instrumented build this way).
 * @internal
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import * as errors from './errors.js';

/** Element types of tensors. */
export type DType = 'f32' | 'bf16' | 'f16' | 'i32' | 'i64';

/** Where a tensor lives: host memory or a CUDA device by ordinal. */
export type Device = 'cpu' | `cuda:${number}`;

/** The native handle of a tensor (see `native/binding/native_tensor.h`). @internal */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly device: Device;
  readonly disposed: boolean;
  readBytes(): ArrayBuffer;
  writeBytes(data: ArrayBufferView): void;
  to(device: Device): NativeTensor;
  view(shape: readonly number[], elementOffset?: number): NativeTensor;
  dispose(): void;
}

/** One op of the table, as `ops()` lists it. */
export interface OpSchema {
  name: string;
  outputs: string[];
  inputs: string[];
  optionalInputs: string[];
  attributes: Record<string, 'boolean' | 'number' | 'integer'>;
  backends: { cpu: boolean; cuda: boolean };
}

/** A CUDA device as the runtime reports it. */
export interface CudaDeviceInfo {
  index: number;
  name: string;
  computeCapability: string;
  memoryBytes: number;
}

/** What the build has and the machine offers. */
export interface BackendsInfo {
  /** `gemm`: the CPU GEMM's micro-kernel (avx512, avx2 or portable). */
  cpu: { available: boolean; threads: number; gemm: string };
  cuda: {
    compiled: boolean;
    available: boolean;
    /** Why CUDA is not available, when it is not. */
    reason?: string;
    devices: CudaDeviceInfo[];
    /** Path of the cuBLASLt library found at run time, or null. */
    cublasLt: string | null;
    /** Path of the NCCL library found at run time, or null. */
    nccl: string | null;
  };
  /** Whether the build found libgloo: multi-process training on CPUs needs it. */
  gloo: { compiled: boolean };
}

/** Options of a rendezvous, as the native connect functions take them. @internal */
export interface NativeGroupOptions {
  rank: number;
  worldSize: number;
  host: string;
  port: number;
  prefix: string;
  timeoutMs: number;
}

/** The native handle of a process group (see `native/binding/process_group.h`). @internal */
export interface NativeProcessGroup {
  allReduce(tensor: NativeTensor, op: 'sum' | 'avg'): void;
  /** Starts an all-reduce; returns the handle to pass to `wait`. */
  allReduceAsync(tensor: NativeTensor, op: 'sum' | 'avg'): number;
  wait(handle: number): void;
  reduceScatter(input: NativeTensor, output: NativeTensor, op: 'sum' | 'avg'): void;
  allGather(input: NativeTensor, output: NativeTensor): void;
  broadcast(tensor: NativeTensor, root: number): void;
  barrier(): void;
  allReduceHost(values: Float64Array): void;
  close(): void;
}

/** Op arguments: tensors by name and attributes. @internal */
export type NativeOpArgs = Record<string, NativeTensor | number | boolean | undefined>;

/** @internal */
export interface NativeAddon {
  NativeTensor: abstract new () => NativeTensor;
  empty(shape: readonly number[], dtype: DType, device: Device): NativeTensor;
  fromBytes(data: ArrayBufferView, shape: readonly number[], dtype: DType, device: Device): NativeTensor;
  runOp(op: string, args: NativeOpArgs): void;
  runOpAsync(op: string, args: NativeOpArgs): Promise<void>;
  ops(): OpSchema[];
  supports(op: string, device: Device): boolean;
  info(): BackendsInfo;
  synchronize(): void;
  setErrorClasses(classes: Record<string, unknown>): void;
  connectGloo(options: NativeGroupOptions): Promise<NativeProcessGroup>;
  connectNccl(options: NativeGroupOptions, device: number, uniqueId: Uint8Array): Promise<NativeProcessGroup>;
  ncclUniqueId(): Uint8Array;
  /** Uninitialised host memory, large blocks on huge pages. */
  hostBuffer(bytes: number): ArrayBuffer;
  /** A whole regular file read on a libuv thread into memory like hostBuffer's. */
  readFile(path: string, maxBytes: number): Promise<ArrayBuffer>;
  /** Index of the first infinite or NaN value, or -1. */
  findNonFinite(values: Float32Array): number;
}

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function loadAddon(): NativeAddon {
  const attempts: string[] = [];
  const explicit = process.env.WSI_VQA_ADDON;
  if (explicit) {
    try {
      return require(explicit) as NativeAddon;
    } catch (error) {
      attempts.push(`WSI_VQA_ADDON=${explicit}: ${(error as Error).message}`);
    }
  }
  try {
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    return load(packageRoot);
  } catch (error) {
    attempts.push(`${packageRoot} (build/Release, prebuilds/): ${(error as Error).message}`);
  }
  throw new errors.MissingLibraryError(
    `the wsi-vqa native addon could not be loaded; run \`npm rebuild wsi-vqa\` (needs cmake or node-gyp and a C++20 compiler). Tried:\n  ${attempts.join('\n  ')}`,
  );
}

/** The loaded addon, with the library's error classes registered. @internal */
export const native: NativeAddon = loadAddon();
native.setErrorClasses({ ...errors });

/**
 * Awaits a native promise, giving an error it rejects with the frames of this call: an error
 * raised on a libuv thread is made without JavaScript frames, and `--verbose` should show where
 * the call came from.
 * @internal
 */
export async function withCallerStack<T>(pending: Promise<T>): Promise<T> {
  const caller = new Error();
  try {
    return await pending;
  } catch (error) {
    if (error instanceof Error && caller.stack) error.stack = `${error.stack ?? error.message}\n${caller.stack.split('\n').slice(1).join('\n')}`;
    throw error;
  }
}

/**
 * Feature files that take long to parse, read on a worker thread: a CSV of 40 000 rows of 1024
 * numbers takes seconds, an HDF5 file is decompressed by h5wasm synchronously, and either would
 * stall the training steps the data loader reads ahead of. One worker, started on first use and
 * not keeping the process alive, reads the files in turn. Where the worker's compiled file is
 * absent (the library run from its TypeScript sources, as the unit tests do), files are read on
 * the calling thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FormatError, IoError } from '../errors.js';
import { readFeatureCsv } from './featureCsv.js';
import { readH5Datasets } from './h5.js';
import type { StoredTensor } from './storedTensor.js';

const workerFile = new URL('./featureWorker.js', import.meta.url);
const ERROR_CLASSES: Readonly<Record<string, new (message: string) => Error>> = { FormatError, IoError };

interface Pending {
  resolve: (tensors: Map<string, StoredTensor>) => void;
  reject: (error: Error) => void;
}

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 0;

function startWorker(): Worker {
  // The worker runs a file: the flag that says how to read `node -e` text would make it fail.
  const started = new Worker(workerFile, { execArgv: process.execArgv.filter((flag) => !flag.startsWith('--input-type')) });
  started.unref();
  started.on('message', ({ id, tensors, error }: { id: number; tensors?: (StoredTensor & { name: string })[]; error?: { name: string; message: string } }) => {
    const request = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) started.unref();
    if (!request) return;
    if (error) request.reject(new (ERROR_CLASSES[error.name] ?? Error)(error.message));
    else request.resolve(new Map(tensors!.map(({ name, ...tensor }) => [name, tensor])));
  });
  const failAll = (error: Error) => {
    if (worker === started) worker = undefined;
    for (const request of pending.values()) request.reject(error);
    pending.clear();
  };
  started.on('error', failAll);
  started.on('exit', (code) => failAll(new Error(`the feature reading worker stopped (exit code ${code})`)));
  return started;
}

/**
 * {@link readFeatureCsv} (`kind` csv) or {@link readH5Datasets} of `names` (`kind` h5) on the
 * worker thread, or here when the worker's file is absent: the same tensors and errors.
 */
export function readOffThread(kind: 'csv' | 'h5', path: string, names: readonly string[] = []): Promise<Map<string, StoredTensor>> {
  if (!existsSync(fileURLToPath(workerFile))) return kind === 'csv' ? readFeatureCsv(path) : readH5Datasets(path, names);
  worker ??= startWorker();
  worker.ref(); // while a file is being read, the process waits for it
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker!.postMessage({ id, kind, path, names: [...names] });
  });
}

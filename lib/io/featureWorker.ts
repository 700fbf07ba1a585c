/**
 * The worker thread that parses feature files for {@link readOffThread}: each message
 * `{id, kind, path, names}` (kind `csv` or `h5`) is answered with the file's tensors (their
 * buffers transferred, not copied) or with the error's class name and message.
 */
import { parentPort } from 'node:worker_threads';
import { readFeatureCsv } from './featureCsv.js';
import { readH5Datasets } from './h5.js';

interface Request {
  id: number;
  kind: 'csv' | 'h5';
  path: string;
  names: string[];
}

parentPort!.on('message', async ({ id, kind, path, names }: Request) => {
  try {
    const read = kind === 'csv' ? await readFeatureCsv(path) : await readH5Datasets(path, names);
    const tensors = [...read].map(([name, tensor]) => ({ name, ...tensor }));
    parentPort!.postMessage({ id, tensors }, tensors.map((tensor) => tensor.data.buffer as ArrayBuffer));
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    parentPort!.postMessage({ id, error: { name, message } });
  }
});

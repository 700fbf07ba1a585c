/**
 * The worker thread that parses feature CSV files for {@link readFeatureCsvOffThread}: each
 * message `{id, path}` is answered with the file's tensors (their buffers transferred, not
 * copied) or with the error's class name and message.
 */
import { parentPort } from 'node:worker_threads';
import { readFeatureCsv } from './featureCsv.js';

parentPort!.on('message', async ({ id, path }: { id: number; path: string }) => {
  try {
    const tensors = [...(await readFeatureCsv(path))].map(([name, tensor]) => ({ name, ...tensor }));
    parentPort!.postMessage({ id, tensors }, tensors.map((tensor) => tensor.data.buffer as ArrayBuffer));
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    parentPort!.postMessage({ id, error: { name, message } });
  }
});

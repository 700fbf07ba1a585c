// Two ranks train a one-tensor task; rank 1's loss is NaN at the second step. Each rank reports
// the error it stopped with: both must stop at that step, neither waiting for the other in vain.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup, parseTrainConfig, rendezvousFromEnv, train } from '../../../dist/index.js';
import { countingData, oneTensorTask } from './oneTensorTask.mjs';

const group = await ProcessGroup.init({ ...rendezvousFromEnv(), timeoutMs: 20000 });
const task = oneTensorTask((step) => (group.rank === 1 && step === 1 ? Number.NaN : 1));
const data = countingData(4);
const outputDir = process.env.TEST_OUT ?? mkdtempSync(join(tmpdir(), 'wsi-vqa-nan-'));
try {
  await train(task, data, parseTrainConfig({ stage: 0, outputDir }), { group, progress: 'none' });
  console.log(`rank ${group.rank}: finished`);
} catch (error) {
  console.log(`rank ${group.rank}: ${error.name}: ${error.message}`);
}
await group.close();

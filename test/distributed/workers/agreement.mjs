// One rank of the agreement test: the same facts on both ranks pass; a fact that differs on
// rank 1 stops both; and train() on ranks given different learning rates stops both before the
// first step. Prints the errors each rank stopped with.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup, parseTrainConfig, rendezvousFromEnv, train } from '../../../dist/index.js';
import { countingData, oneTensorTask } from './oneTensorTask.mjs';

const group = await ProcessGroup.init({ ...rendezvousFromEnv(), timeoutMs: 20000 });
const message = (run) => {
  try {
    run();
    return null;
  } catch (error) {
    return `${error.name}: ${error.message}`;
  }
};
const same = message(() => group.checkAgreement({ model: 'tiny', config: '{"lr":1}' }));
const differing = message(() => group.checkAgreement({ model: 'tiny', config: group.rank === 1 ? '{"lr":2}' : '{"lr":1}' }));

const task = oneTensorTask();
const data = countingData(2);
const outputDir = mkdtempSync(join(tmpdir(), 'wsi-vqa-agreement-'));
let training = null;
try {
  await train(task, data, parseTrainConfig({ stage: 0, outputDir, lr: group.rank === 1 ? 1e-3 : 1e-4 }), { group, progress: 'none' });
} catch (error) {
  training = `${error.name}: ${error.message}`;
}
console.log(JSON.stringify({ rank: group.rank, same, differing, training }));
await group.close();

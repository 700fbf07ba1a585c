// Two ranks train a one-tensor task; rank 1's loss is NaN at the second step. Each rank reports
// the error it stopped with: both must stop at that step, neither waiting for the other in vain.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup, Tensor, fill, parseTrainConfig, rendezvousFromEnv, train } from '../../../dist/index.js';

const group = await ProcessGroup.init({ ...rendezvousFromEnv(), timeoutMs: 20000 });
const weight = Tensor.zeros([4]);
const grad = Tensor.zeros([4]);
const task = {
  parameters: () => [{ name: 'w', value: weight, grad }],
  zeroGradients: () => fill(grad),
  forwardBackward: async (_batch, { step }) => {
    fill(grad, 0.5);
    return { lossSum: group.rank === 1 && step === 1 ? Number.NaN : 1, count: 1 };
  },
  saveWeights: async () => {},
  loadWeights: async () => {},
};
const data = {
  batchesPerEpoch: 4,
  async *batches(_epoch, from = 0) {
    for (let i = from; i < 4; i++) yield i;
  },
};
const outputDir = process.env.TEST_OUT ?? mkdtempSync(join(tmpdir(), 'wsi-vqa-nan-'));
try {
  await train(task, data, parseTrainConfig({ stage: 0, outputDir }), { group, progress: 'none' });
  console.log(`rank ${group.rank}: finished`);
} catch (error) {
  console.log(`rank ${group.rank}: ${error.name}: ${error.message}`);
}
await group.close();

// The smallest training task for the trainer's multi-rank tests: one parameter of 4 elements
// whose gradient is 0.5 everywhere, a loss of `lossAt(step)` per micro-batch, and a data source
// of `batches` micro-batches an epoch.
import { Tensor, fill } from '../../../dist/index.js';

export function oneTensorTask(lossAt = () => 1) {
  const weight = Tensor.zeros([4]);
  const grad = Tensor.zeros([4]);
  return {
    parameters: () => [{ name: 'w', value: weight, grad }],
    zeroGradients: () => fill(grad),
    forwardBackward: async (_batch, { step }) => {
      fill(grad, 0.5);
      return { lossSum: lossAt(step), count: 1 };
    },
    saveWeights: async () => {},
    loadWeights: async () => {},
  };
}

export function countingData(batches) {
  return {
    batchesPerEpoch: batches,
    async *batches(_epoch, from = 0) {
      for (let i = from; i < batches; i++) yield i;
    },
  };
}

/**
 * `--grad-reduce-dtype bf16` sends gradient buckets as bf16, which NCCL reduces and Gloo cannot:
 * over Gloo it is a ConfigError saying so, and the trainer refuses it where no buckets travel
 * (no group, or ZeRO-1). The bf16 run itself is in worldSizeOne.test.ts (NCCL, on a GPU).
 */
import { describe, expect, it } from 'vitest';
import { GradientBuckets } from '../../lib/distributed/gradientBuckets.js';
import { ProcessGroup } from '../../lib/distributed/processGroup.js';
import { ConfigError } from '../../lib/errors.js';
import { info } from '../../lib/info.js';
import { Tensor } from '../../lib/tensor.js';
import { parseTrainConfig } from '../../lib/train/config.js';
import { train } from '../../lib/train/trainer.js';
import { tempDir } from '../io/helpers.js';

describe('bf16 gradient buckets', () => {
  it.skipIf(!info().backends.gloo.compiled)('are a ConfigError over Gloo; f32 buckets still sum', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const group = await ProcessGroup.init({ rank: 0, worldSize: 1, localRank: 0, masterAddr: '127.0.0.1', masterPort: port, backend: 'gloo', timeoutMs: 5000 });
    try {
      using grad = Tensor.from(Float32Array.of(1, 2, 3), [3]);
      expect(() => new GradientBuckets(group, [{ name: 'w', grad }], undefined, 'bf16')).toThrow(ConfigError);
      expect(() => new GradientBuckets(group, [{ name: 'w', grad }], undefined, 'bf16')).toThrow(/bf16 over NCCL only, not over gloo/);
      const buckets = new GradientBuckets(group, [{ name: 'w', grad }]);
      buckets.sum();
      expect(Array.from(grad.toFloat32())).toEqual([1, 2, 3]);
      buckets.dispose();
    } finally {
      await group.close();
    }
  });

  it('are refused by the trainer where no buckets travel', async () => {
    const config = parseTrainConfig({ stage: 1, outputDir: tempDir() }, 'test');
    const noTask = {} as Parameters<typeof train>[0];
    const noData = { batchesPerEpoch: 1 } as Parameters<typeof train>[1];
    await expect(train(noTask, noData, config, { gradReduceDtype: 'bf16' })).rejects.toThrow(/applies to the gradient buckets of a data-parallel run/);
  });
});

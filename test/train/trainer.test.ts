/**
 * The trainer with a real task (stage 0 on the synthetic slides): it learns; a run stopped and
 * resumed ends with the same weights as one that was not; a save killed part-way leaves the
 * previous checkpoint as it was; damaged metrics or class names are refused naming the file; a
 * NaN loss stops the run with an error naming the step; bad config keys are errors naming them.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomCompressor } from '../../lib/compressorState.js';
import { readDataset } from '../../lib/data/dataset.js';
import { DataLoader } from '../../lib/data/loader.js';
import { makeSyntheticDataset } from '../../lib/demo/synth.js';
import { ConfigError, FormatError, TrainingError } from '../../lib/errors.js';
import { CompressorClassifierTask, type SlideLabelBatch, slideLabelCollate } from '../../lib/train/compressorTask.js';
import { FINAL_CHECKPOINT, latestCheckpoint, writeCheckpoint } from '../../lib/train/checkpoints.js';
import { parseTrainConfig } from '../../lib/train/config.js';
import { readMetrics, train } from '../../lib/train/trainer.js';
import type { Sample } from '../../lib/data/sample.js';
import { tempDir } from '../io/helpers.js';

describe('trainer', () => {
  let samples: Sample[] = [];
  let classes: string[] = [];
  beforeAll(async () => {
    const data = await makeSyntheticDataset(tempDir(), { trainSlides: 24, testSlides: 4, patches: [12, 30], seed: 3 });
    samples = await readDataset(data.labelsCsv, { featuresDir: data.dir });
    classes = [...new Set(samples.map((s) => s.label!))].sort();
  });

  const loader = () => new DataLoader<SlideLabelBatch>(samples, { batchSize: 4, collate: slideLabelCollate(classes), seed: 9 });
  const task = () => new CompressorClassifierTask(randomCompressor({ slots: 4, seed: 1 }), classes, { seed: 2 });
  // A digest per parameter: deep-equality of megabytes of floats is slow in the test runner.
  const weightsOf = (t: CompressorClassifierTask) => t.parameters().map((p) => `${p.name} ${createHash('sha256').update(p.value.toFloat32()).digest('hex')}`);

  it('learns the slide labels, writing metrics, the final checkpoint and its trainer state', async () => {
    const out = tempDir();
    const t = task();
    const config = parseTrainConfig({ stage: 0, outputDir: out, batchSize: 4, epochs: 6, lr: 3e-3, seed: 1 });
    const result = await train(t, loader(), config, { progress: 'none' });
    expect(result.steps).toBe(36);
    const losses = result.history.map((m) => m.loss);
    expect(losses.slice(-6).reduce((a, b) => a + b) / 6).toBeLessThan(0.5 * (losses.slice(0, 6).reduce((a, b) => a + b) / 6));
    expect((await readMetrics(join(out, 'metrics.jsonl'))).map((m) => m.step)).toEqual(result.history.map((m) => m.step));
    expect((await readMetrics(join(out, 'metrics.jsonl'))).every((m) => m.dataWaitSeconds! >= 0)).toBe(true); // the loader's wait, logged per step
    expect(readdirSync(join(out, FINAL_CHECKPOINT)).sort()).toEqual(['classes.json', 'classifier.safetensors', 'compressor.safetensors', 'optimizer.safetensors', 'trainer_state.json']);
    expect(JSON.parse(readFileSync(join(out, FINAL_CHECKPOINT, 'trainer_state.json'), 'utf8')).step).toBe(36);
  });

  it('resumes a stopped run to the same weights as an uninterrupted one, bit for bit', async () => {
    const config = (out: string) => parseTrainConfig({ stage: 0, outputDir: out, batchSize: 4, gradientAccumulationSteps: 2, epochs: 2, lr: 1e-3, seed: 4 });
    const whole = task();
    await train(whole, loader(), config(tempDir()), { progress: 'none' });

    const out = tempDir();
    await train(task(), loader(), config(out), { progress: 'none', stopAfter: 3 });
    expect((await latestCheckpoint(out))!.state.step).toBe(3);
    // As a run killed while logging step 4 leaves it: the line's start, no line break.
    appendFileSync(join(out, 'metrics.jsonl'), '{"step":4,"lo');
    const resumed = task();
    const result = await train(resumed, loader(), config(out), { progress: 'none', resume: true });
    expect(result.history.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await readMetrics(join(out, 'metrics.jsonl'))).map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(weightsOf(resumed)).toEqual(weightsOf(whole));
  });

  it('refuses to resume from damaged metrics or class names, naming the file and line', async () => {
    const config = (out: string) => parseTrainConfig({ stage: 0, outputDir: out, batchSize: 4, epochs: 1, lr: 1e-3, seed: 4 });
    const out = tempDir();
    await train(task(), loader(), config(out), { progress: 'none', stopAfter: 3 });
    const metrics = join(out, 'metrics.jsonl');
    const lines = readFileSync(metrics, 'utf8').split('\n');
    writeFileSync(metrics, [lines[0], lines[1].slice(0, 20), ...lines.slice(2)].join('\n'));
    await expect(train(task(), loader(), config(out), { progress: 'none', resume: true })).rejects.toThrow(new RegExp(`^${metrics}: line 2 is not valid JSON \\(.* at line 1, column 21\\)$`));
    writeFileSync(metrics, lines.join('\n'));
    const classes = join(out, 'step-3', 'classes.json');
    writeFileSync(classes, '["a", "b",\n');
    // The only checkpoint cannot be loaded: nothing to resume from, saying why.
    await expect(train(task(), loader(), config(out), { progress: 'none', resume: true })).rejects.toThrow(TrainingError);
    await expect(train(task(), loader(), config(out), { progress: 'none', resume: true })).rejects.toThrow(`(${classes}: not valid JSON (Unexpected end of JSON input))`);
  });

  it('keeps the previous checkpoint when a save fails part-way', async () => {
    const out = tempDir();
    const t = task();
    await train(t, loader(), parseTrainConfig({ stage: 0, outputDir: out, epochs: 1, batchSize: 4 }), { progress: 'none', stopAfter: 2 });
    const before = readFileSync(join(out, 'step-2', 'compressor.safetensors'));
    const state = (await latestCheckpoint(out))!.state;
    await expect(
      writeCheckpoint(out, 'step-2', { ...state, step: 99 }, async (dir) => {
        await t.saveWeights(dir);
        throw new Error('killed while writing');
      }),
    ).rejects.toThrow(/step-2: cannot write the checkpoint \(killed while writing\)/);
    expect(readFileSync(join(out, 'step-2', 'compressor.safetensors')).equals(before)).toBe(true);
    expect((await latestCheckpoint(out))!.state.step).toBe(2);
    expect(readdirSync(out).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('stops on a NaN loss naming the step, leaving the last checkpoint', async () => {
    const out = tempDir();
    const config = parseTrainConfig({ stage: 0, outputDir: out, epochs: 2, batchSize: 4, saveEvery: 2 });
    // The task's fourth micro-batch reports a NaN loss (its gradients stay finite).
    const nanAtFourth = (inner: ReturnType<typeof task>): ReturnType<typeof task> => {
      let calls = 0;
      return new Proxy(inner, {
        get(target, key) {
          if (key === 'forwardBackward') {
            return async (...args: Parameters<typeof inner.forwardBackward>) => {
              const result = await target.forwardBackward(...args);
              return calls++ === 3 ? { ...result, lossSum: Number.NaN } : result;
            };
          }
          const value = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    };
    await expect(train(nanAtFourth(task()), loader(), config, { progress: 'none' })).rejects.toThrow(TrainingError);
    await expect(train(nanAtFourth(task()), loader(), config, { progress: 'none' })).rejects.toThrow(/step 4 \(epoch 1, micro-batch 4\): the loss is NaN/);
    expect((await latestCheckpoint(out))!.state.step).toBe(2);
    expect(existsSync(join(out, FINAL_CHECKPOINT))).toBe(false);
  });

  it('stops on NaN features at the gate, naming the slide, leaving the last checkpoint', async () => {
    const out = tempDir();
    const config = parseTrainConfig({ stage: 0, outputDir: out, epochs: 2, batchSize: 4, saveEvery: 2 });
    const poisoned = { batchesPerEpoch: 6, async *batches(epoch: number, from = 0) {
      let i = from;
      for await (const batch of loader().batches(epoch, from)) {
        if (epoch === 0 && i++ === 3) batch.features.fill(NaN);
        yield batch;
      }
    } };
    await expect(train(task(), poisoned, config, { progress: 'none' })).rejects.toThrow(FormatError);
    await expect(train(task(), poisoned, config, { progress: 'none' })).rejects.toThrow(/moe_route: slide 0: the gate logit of patch row 0, slot 0 is nan/);
    expect((await latestCheckpoint(out))!.state.step).toBe(2);
    expect(existsSync(join(out, FINAL_CHECKPOINT))).toBe(false);
  });

  it('names unknown keys and bad values of the config', () => {
    expect(() => parseTrainConfig({ stage: 1, outputDir: 'o', batchsize: 4 })).toThrow(ConfigError);
    expect(() => parseTrainConfig({ stage: 1, outputDir: 'o', batchsize: 4 })).toThrow(/unknown key 'batchsize'/);
    expect(() => parseTrainConfig({ stage: 3, outputDir: 'o', lr: -1 })).toThrow(/'stage'.*'lr'/);
    expect(parseTrainConfig({ stage: 2, outputDir: 'o' }).lr).toBe(1e-5);
  });
});

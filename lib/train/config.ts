/**
 * The training config: every setting of a run, validated with zod. Unknown keys and bad values
 * are a {@link ConfigError} naming each key; the learning rate's default depends on the stage ({@link STAGE_LEARNING_RATES}).
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';

/** The training stages: 0 compressor pretraining, 1 captions (projector), 2 VQA (projector + LLM). */
export type Stage = 0 | 1 | 2;

/** The default learning rate of each stage. */
export const STAGE_LEARNING_RATES: Readonly<Record<Stage, number>> = { 0: 1e-4, 1: 1e-4, 2: 1e-5 };

const positiveInt = z.number().int().positive();

export const trainConfigSchema = z.strictObject({
  stage: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  outputDir: z.string().min(1),
  /** Samples per micro-batch on each rank. */
  batchSize: positiveInt.default(4),
  gradientAccumulationSteps: positiveInt.default(1),
  epochs: positiveInt.default(1),
  /** Peak learning rate; the stage's default when absent. */
  lr: z.number().positive().optional(),
  /** Share of the optimizer steps spent warming up linearly from 0. */
  warmupRatio: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().min(0).default(0),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  eps: z.number().positive().default(1e-8),
  /** Global gradient norm limit (0: no clipping). */
  maxGradNorm: z.number().min(0).default(1),
  /** Evaluate every this many optimizer steps (0: only at the end). */
  evalEvery: z.number().int().min(0).default(0),
  /** Write a checkpoint every this many optimizer steps (0: only the final one). */
  saveEvery: z.number().int().min(0).default(0),
  /** Stages 1 and 2: train the MoE compressor too (beyond the seed, which keeps it frozen). */
  trainCompressor: z.boolean().default(false),
  /** The compressor's own peak learning rate with `trainCompressor`; the run's `lr` when absent. */
  compressorLr: z.number().positive().optional(),
  /** Data order, noise and dropout all derive from it. */
  seed: z.number().int().min(0).default(0),
});

/** A validated config, defaults filled in. */
export type TrainConfig = z.output<typeof trainConfigSchema> & { lr: number };

/** What a user writes: the stage and the output folder, anything else optional. */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/** Validates `input` (e.g. parsed JSON or CLI flags); `source` names where it came from in the error. */
export function parseTrainConfig(input: unknown, source = 'training config'): TrainConfig {
  const result = trainConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
      const key = issue.path.join('.') || '(root)';
      return `'${key}': ${issue.message}`;
    });
    throw new ConfigError(`${source}: ${problems.join('; ')}`);
  }
  return { ...result.data, lr: result.data.lr ?? STAGE_LEARNING_RATES[result.data.stage] };
}

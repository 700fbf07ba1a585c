/** Every op family's cases, for test/ops/ops.test.ts. A new family adds its file here. */
import type { GradientCase, OpCase } from '../harness.js';
import { attentionGradientCases, attentionOpCases } from './attention.js';
import { basicGradientCases, basicOpCases } from './basic.js';
import { classifierHeadGradientCases } from './classifierHead.js';
import { layerGradientCases, layerOpCases } from './layers.js';
import { linearOpCases } from './linear.js';
import { lossGradientCases, lossOpCases } from './loss.js';
import { moeGradientCases, moeOpCases } from './moe.js';
import { qwen3GradientCases, qwen3OpCases } from './qwen3.js';

export const allOpCases: OpCase[] = [
  ...basicOpCases,
  ...linearOpCases,
  ...attentionOpCases,
  ...layerOpCases,
  ...moeOpCases,
  ...lossOpCases,
  ...qwen3OpCases,
];

export const allGradientCases: GradientCase[] = [
  ...basicGradientCases,
  ...attentionGradientCases,
  ...layerGradientCases,
  ...moeGradientCases,
  ...lossGradientCases,
  ...qwen3GradientCases,
  ...classifierHeadGradientCases,
];

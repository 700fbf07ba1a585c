/** Every op family's cases, for test/ops/ops.test.ts. A new family adds its file here. */
import type { GradientCase, OpCase } from '../harness.js';
import { basicGradientCases, basicOpCases } from './basic.js';

export const allOpCases: OpCase[] = [...basicOpCases];

export const allGradientCases: GradientCase[] = [...basicGradientCases];
import { attentionGradientCases, attentionOpCases } from './attention.js';
allOpCases.push(...attentionOpCases);
allGradientCases.push(...attentionGradientCases);
import { linearOpCases } from './linear.js';
allOpCases.push(...linearOpCases);

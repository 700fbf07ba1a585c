/** Every op family's cases, for test/ops/ops.test.ts. A new family adds its file here. */
import type { GradientCase, OpCase } from '../harness.js';
import { basicGradientCases, basicOpCases } from './basic.js';

export const allOpCases: OpCase[] = [...basicOpCases];

export const allGradientCases: GradientCase[] = [...basicGradientCases];
import { layerGradientCases, layerOpCases } from './layers.js';
allOpCases.push(...layerOpCases);
allGradientCases.push(...layerGradientCases);
import { moeGradientCases, moeOpCases } from './moe.js';
allOpCases.push(...moeOpCases);
allGradientCases.push(...moeGradientCases);
import { lossGradientCases, lossOpCases } from './loss.js';
allOpCases.push(...lossOpCases);
allGradientCases.push(...lossGradientCases);

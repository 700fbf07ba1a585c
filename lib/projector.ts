/**
 * The projector from compressed slide tokens to the language model's embedding width:
 * Linear(1024, 2048) + bias → GELU (erf) → Linear(2048, hidden) + bias (SlideChat's projector), with an
 * explicit backward for stage 1 and 2 training.
 */
import { geluBackward, linearGelu } from './layers.js';
import { linear, linearBackward } from './ops.js';
import type { Tensor } from './tensor.js';

/** The projector's parameters: fc1 (2048, 1024) + (2048), fc2 (hidden, 2048) + (hidden). */
export interface ProjectorWeights {
  fc1Weight: Tensor;
  fc1Bias: Tensor;
  fc2Weight: Tensor;
  fc2Bias: Tensor;
}

/** What {@link projectorForward} keeps for {@link projectorBackward}. */
export interface ProjectorSaved {
  /** The input (..., 1024), not owned. */
  x: Tensor;
  /** fc1 output before GELU (..., 2048) f32. */
  pre: Tensor;
  /** GELU output (..., 2048) f32. */
  act: Tensor;
}

/** Projects x (..., 1024) to (..., hidden); the output has x's dtype. */
export function projectorForward(weights: ProjectorWeights, x: Tensor): { out: Tensor; saved: ProjectorSaved } {
  const { out: act, pre } = linearGelu(x, weights.fc1Weight, weights.fc1Bias);
  const out = linear(act, weights.fc2Weight, weights.fc2Bias);
  return { out, saved: { x, pre, act } };
}

/**
 * Backward of {@link projectorForward} for the output gradient dOut (..., hidden). Weight and
 * bias gradients accumulate (+=) into `grads` (same shapes as the weights); returns dx (..., 1024)
 * and disposes the saved activations.
 */
export function projectorBackward(weights: ProjectorWeights, saved: ProjectorSaved, dOut: Tensor, grads: ProjectorWeights): Tensor {
  const fc2 = linearBackward(saved.act, weights.fc2Weight, dOut, { bias: true, accumulateInto: { dWeight: grads.fc2Weight, dBias: grads.fc2Bias } });
  const dPre = geluBackward(saved.pre, fc2.dx, { out: fc2.dx });
  const fc1 = linearBackward(saved.x, weights.fc1Weight, dPre, { bias: true, accumulateInto: { dWeight: grads.fc1Weight, dBias: grads.fc1Bias } });
  fc2.dx.dispose();
  saved.pre.dispose();
  saved.act.dispose();
  return fc1.dx;
}

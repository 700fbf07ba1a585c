/** The learning rate over a run: linear warmup from 0, then cosine decay to 0 (Hugging Face's get_cosine_schedule_with_warmup). */

/** The learning rate of optimizer step `step` (0-based) of `total`, with `warmup` warmup steps, peaking at `peak`. */
export function cosineWithWarmup(step: number, total: number, warmup: number, peak: number): number {
  if (step < warmup) return (peak * step) / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

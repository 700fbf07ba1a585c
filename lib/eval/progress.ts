/** Progress over an evaluation's questions: a bar on a terminal (cli-progress), plain lines elsewhere, or nothing. */
import cliProgress from 'cli-progress';
import type { ProgressMode } from '../train/progress.js';

export interface QuestionProgress {
  /** `done` of the total answered; `variant` is who answers now (model, blind, shuffled). */
  update(done: number, variant: string): void;
  stop(): void;
}

export function questionProgress(total: number, mode: ProgressMode): QuestionProgress {
  const chosen = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'lines') : mode;
  if (chosen === 'none') return { update: () => undefined, stop: () => undefined };
  const started = performance.now();
  const rate = (done: number) => (done / Math.max((performance.now() - started) / 1000, 1e-9)).toFixed(1);
  if (chosen === 'lines') {
    const every = Math.max(1, Math.round(total / 10));
    return {
      update: (done, variant) => {
        if (done % every === 0 || done === total) process.stderr.write(`evaluation ${done}/${total} questions (${variant}) ${rate(done)} questions/s\n`);
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: 'evaluation [{bar}] {value}/{total} questions | {variant} | {speed} questions/s | ETA {eta_formatted}', hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { variant: '-', speed: '-' });
  return { update: (done, variant) => bar.update(done, { variant, speed: rate(done) }), stop: () => bar.stop() };
}

/**
 * Showing a run's progress: a bar with loss, lr, tokens/s (slides/s in stage 0) and ETA on a terminal (cli-progress),
 * plain lines elsewhere (CI logs), or nothing.
 */
import cliProgress from 'cli-progress';

/** One optimizer step's numbers. */
export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Tokens (or slides, in stage 0) the step's loss counted. */
  tokens: number;
  tokensPerSecond: number;
  seconds: number;
  /** Seconds the step waited for its batches' features (where the data source measures it). */
  dataWaitSeconds?: number;
}

export interface Progress {
  update(metrics: StepMetrics): void;
  /** A message between updates (an evaluation, a checkpoint). */
  log(message: string): void;
  stop(): void;
}

/** `auto`: a bar when stderr is a terminal, else lines. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** `unit`: what the loss counts (`tokens`, or `slides` in stage 0), shown as the loss's denominator and the speed. */
export function makeProgress(label: string, totalSteps: number, mode: ProgressMode = 'auto', unit: 'tokens' | 'slides' = 'tokens'): Progress {
  const short = unit === 'tokens' ? 'tok' : unit;
  const chosen = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'lines') : mode;
  if (chosen === 'none') return { update: () => undefined, log: () => undefined, stop: () => undefined };
  if (chosen === 'lines') {
    const every = Math.max(1, Math.round(totalSteps / 20));
    return {
      update: (m) => {
        if (m.step % every === 0 || m.step === totalSteps) process.stderr.write(`${label} ${describe(m, totalSteps, unit, short)}\n`);
      },
      log: (message) => process.stderr.write(`${label} ${message}\n`),
      stop: () => undefined,
    };
  }
  // A MultiBar of one bar: it can print messages above the bar without breaking it.
  const bars = new cliProgress.MultiBar(
    { format: `${label} [{bar}] {value}/{total} | loss per ${unit.slice(0, -1)} {loss} | lr {lr} | {speed} ${short}/s | ETA {eta_formatted}`, hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(totalSteps, 0, { loss: '-', lr: '-', speed: '-' });
  return {
    update: (m) => bar.update(m.step, { loss: m.loss.toFixed(4), lr: m.lr.toExponential(2), speed: speed(m.tokensPerSecond) }),
    log: (message) => bars.log(`${message}\n`),
    stop: () => bars.stop(),
  };
}

function describe(m: StepMetrics, total: number, unit: string, short: string): string {
  return `step ${m.step}/${total} loss per ${unit.slice(0, -1)} ${m.loss.toFixed(4)} lr ${m.lr.toExponential(2)} grad-norm ${m.gradNorm.toFixed(3)} ${speed(m.tokensPerSecond)} ${short}/s${m.dataWaitSeconds === undefined ? '' : ` data-wait ${m.dataWaitSeconds.toFixed(3)} s`}`;
}

/** A rate with a few significant digits: slides come a few per second, tokens hundreds. */
function speed(perSecond: number): string {
  return perSecond >= 100 ? String(Math.round(perSecond)) : perSecond.toPrecision(2);
}

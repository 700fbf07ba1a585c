/**
 * Ctrl-C (SIGINT) and SIGTERM during training: the first asks the run to stop at the end of the
 * step in progress (the trainer's `stop` signal: it writes a checkpoint there); a second one
 * stops the process at once. Either way the process ends with the shell's code for the signal
 * (128 + its number: 130 for SIGINT, 143 for SIGTERM), so scripts and launchers see how it ended.
 *
 * Under `wsi-vqa launch` in a terminal, one Ctrl-C reaches each rank twice, from the terminal
 * (the ranks are in its foreground process group) and forwarded by the launcher, a few
 * milliseconds apart: a signal within {@link REPEAT_WINDOW_MS} of the first counts as the same one.
 */
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** A signal this soon after the first is the same one delivered twice, not a second request. */
export const REPEAT_WINDOW_MS = 500;

export interface StopOnSignals {
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /** The exit code the first signal calls for (128 + its number), or undefined when none came. */
  readonly exitCode: number | undefined;
  /** Restores the default handling. */
  dispose(): void;
}

/** Catches SIGINT and SIGTERM until disposed (see the file comment); `say` tells the user what happens. */
export function stopOnSignals(say: (message: string) => void = (message) => process.stderr.write(`${message}\n`)): StopOnSignals {
  const controller = new AbortController();
  let exitCode: number | undefined;
  let firstAt = 0;
  const handler = (name: NodeJS.Signals) => {
    const code = 128 + constants.signals[name];
    if (exitCode !== undefined && performance.now() - firstAt < REPEAT_WINDOW_MS) return;
    if (exitCode !== undefined) {
      say(`${name} again: stopping now`);
      process.exit(code);
    }
    exitCode = code;
    firstAt = performance.now();
    say(`${name}: stopping at the end of this step, after writing a checkpoint (send it again to stop at once)`);
    controller.abort(name);
  };
  for (const name of SIGNALS) process.on(name, handler);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose: () => {
      for (const name of SIGNALS) process.off(name, handler);
    },
  };
}

/**
 * Ctrl-C (SIGINT) and SIGTERM during training: the first asks the run to stop at the end of the
 * step in progress (the trainer's `stop` signal: it writes a checkpoint there); a second one
 * stops the process at once. Either way the process ends with the shell's code for the signal
 * (128 + its number: 130 for SIGINT, 143 for SIGTERM), so scripts and launchers see how it ended.
 */
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

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
  const handler = (name: NodeJS.Signals) => {
    const code = 128 + constants.signals[name];
    if (exitCode !== undefined) {
      say(`${name} again: stopping now`);
      process.exit(code);
    }
    exitCode = code;
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

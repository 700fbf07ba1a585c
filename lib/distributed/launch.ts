/**
 * The launcher behind `wsi-vqa launch`, as torchrun: starts this node's ranks of a script with
 * the rendezvous environment, forwards SIGINT and SIGTERM to them, and when a rank fails stops
 * the others (SIGTERM, then SIGKILL after a grace period) and reports which rank failed and how.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { constants } from 'node:os';

export interface LaunchOptions {
  /** The script every rank runs with node, and its arguments. */
  script: string;
  args?: readonly string[];
  nprocPerNode: number;
  nnodes?: number;
  nodeRank?: number;
  /** Rank 0's host. Default 127.0.0.1. */
  masterAddr?: string;
  /** Rank 0's store port. Default: a free port on a single node, 29500 across nodes. */
  masterPort?: number;
  /** How long the other ranks get to stop after SIGTERM before SIGKILL. Default 10 s. */
  graceMs?: number;
  /** Where the ranks' output goes (default this process's). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** How a launch ended: 0 when every rank succeeded; otherwise the first rank that failed. */
export interface LaunchResult {
  exitCode: number;
  failure?: { rank: number; code: number | null; signal: NodeJS.Signals | null; stderrTail: string };
}

const TAIL_BYTES = 4096;

export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const { nprocPerNode, nnodes = 1, nodeRank = 0 } = options;
  for (const [name, value, min] of [['nprocPerNode', nprocPerNode, 1], ['nnodes', nnodes, 1], ['nodeRank', nodeRank, 0]] as const) {
    if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`launch: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  if (nodeRank >= nnodes) throw new RangeError(`launch: nodeRank ${nodeRank} is not in [0, ${nnodes})`);
  const masterAddr = options.masterAddr ?? '127.0.0.1';
  const masterPort = options.masterPort ?? (nnodes === 1 ? await freePort() : 29500);
  const worldSize = nprocPerNode * nnodes;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;

  const ranks = Array.from({ length: nprocPerNode }, (_, localRank) => {
    const rank = nodeRank * nprocPerNode + localRank;
    const child = spawn(process.execPath, [options.script, ...(options.args ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(localRank),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(nprocPerNode),
        GROUP_RANK: String(nodeRank),
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
      },
    });
    let tail = '';
    child.stdout!.on('data', (chunk: Buffer) => stdout.write(chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    });
    const exited = new Promise<{ rank: number; code: number | null; signal: NodeJS.Signals | null; stderrTail: () => string }>((resolve) =>
      child.on('close', (code, signal) => resolve({ rank, code, signal, stderrTail: () => tail })),
    );
    return { rank, child, exited };
  });

  let stopping: NodeJS.Signals | undefined;
  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = signal;
    for (const { child } of ranks) signalChild(child, signal);
    const timer = setTimeout(() => ranks.forEach(({ child }) => signalChild(child, 'SIGKILL')), options.graceMs ?? 10_000);
    timer.unref();
  };
  const forward = (signal: NodeJS.Signals) => () => stopAll(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);

  let failure: LaunchResult['failure'];
  try {
    await Promise.all(
      ranks.map(async ({ exited }) => {
        const { rank, code, signal, stderrTail } = await exited;
        if ((code === 0 && !signal) || failure) return;
        if (stopping && signal) return; // stopped by us after another rank failed
        if (stopping && code === 128 + constants.signals[stopping]) return; // stopped as asked (a trainer ends with the signal's exit code)
        failure = { rank, code, signal, stderrTail: stderrTail() };
        stopAll('SIGTERM');
      }),
    );
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  if (failure) return { exitCode: failure.code && failure.code > 0 ? failure.code : 1, failure };
  // Stopped by a signal to the launcher: the shell's code for it (130 for SIGINT).
  return { exitCode: stopping ? 128 + constants.signals[stopping] : 0 };
}

/** The message that names a failed rank, with the end of what it wrote to stderr. */
export function describeFailure(failure: NonNullable<LaunchResult['failure']>): string {
  const how = failure.signal ? `was killed by ${failure.signal}` : `exited with code ${failure.code}`;
  const tail = failure.stderrTail.trim().split('\n').slice(-10).join('\n  ');
  return `rank ${failure.rank} ${how}; the other ranks were stopped${tail ? `. Its last output:\n  ${tail}` : ''}`;
}

function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 29500;
}

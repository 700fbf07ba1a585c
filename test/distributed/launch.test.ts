/**
 * The process group and the launcher with real processes: every collective over Gloo against
 * values worked out here, on three ranks and on two nodes of two; ranks that disagree, a rank
 * that never arrives, a NaN loss on one rank, a rank killed mid-run, and the launcher stopped by
 * a signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ProcessGroup } from '../../lib/distributed/processGroup.js';
import { launch } from '../../lib/distributed/launch.js';
import { DistributedError } from '../../lib/errors.js';
import { info } from '../../lib/info.js';

const worker = (name: string) => fileURLToPath(new URL(`./workers/${name}`, import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli/wsi-vqa.js', import.meta.url));

function collect(): { stream: Writable; text: () => string } {
  let text = '';
  return { stream: new Writable({ write: (chunk, _, done) => ((text += chunk.toString()), done()) }), text: () => text };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `wsi-vqa launch` running barrierLoop.mjs on `ranks` ranks, once every rank has said it is ready. */
async function startBarrierLoop(ranks: number): Promise<{ launcher: ChildProcess; pids: number[]; stderr: () => string }> {
  const launcher = spawn(process.execPath, [CLI, 'launch', '--nproc-per-node', String(ranks), worker('barrierLoop.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  launcher.stderr!.on('data', (chunk) => (stderr += chunk));
  const pids = await new Promise<number[]>((resolve, reject) => {
    launcher.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const ready = [...stdout.matchAll(/ready (\d+) (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
      if (ready.length === ranks) resolve(ready.sort((a, b) => a[0] - b[0]).map(([, pid]) => pid));
    });
    launcher.on('exit', () => reject(new Error(`the launcher ended early:\n${stdout}\n${stderr}`)));
  });
  return { launcher, pids, stderr: () => stderr };
}

/** The JSON lines of the ranks' output, by rank. */
function ranksOutput(output: string): any[] {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).sort((a, b) => a.rank - b.rank);
}

/** A worker on `nprocPerNode` ranks of one node, which must succeed: each rank's JSON line, by rank. */
async function launchWorker(name: string, nprocPerNode: number, args: string[] = []): Promise<any[]> {
  const out = collect();
  const result = await launch({ script: worker(name), nprocPerNode, args, stdout: out.stream, stderr: out.stream });
  expect(result.exitCode, out.text()).toBe(0);
  return ranksOutput(out.text());
}

/** What collectives.mjs must print on every rank of a world of `world` ranks. */
function expectCollectives(reports: any[], world: number): void {
  expect(reports.map((r) => r.rank)).toEqual(Array.from({ length: world }, (_, r) => r));
  const ranks = Array.from({ length: world }, (_, r) => r);
  const total = (f: (rank: number) => number) => ranks.reduce((sum, r) => sum + f(r), 0);
  for (const r of reports) {
    expect(r.summed).toEqual([0, 1, 2, 3, 4].map((i) => total((rank) => (rank + 1) * (i + 1))));
    r.averaged.forEach((v: number, i: number) => expect(v).toBeCloseTo(total((rank) => rank * 10 + i) / world, 5));
    // chunk r of Σ_rank (i + rank)
    expect(r.scattered).toEqual([0, 1].map((j) => total((rank) => 2 * r.rank + j + rank)));
    expect(r.gathered).toEqual(Array.from({ length: 3 * world }, (_, i) => i));
    expect(r.broadcast).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(r.early).toEqual([0, 1, 2, 3].map((i) => total((rank) => rank + i)));
    r.late.forEach((v: number, i: number) => expect(v).toBeCloseTo(total((rank) => rank * (i + 1)) / world, 5));
    expect(r.sums[0]).toBe(total((rank) => rank));
    expect(r.sums[1]).toBeCloseTo(0.1 * world, 12);
  }
}

describe.skipIf(!info().backends.gloo.compiled)('process groups over Gloo', () => {
  it('all-reduce (blocking and started), reduce-scatter, all-gather, broadcast, barrier and host sums agree with the arithmetic on 3 ranks', async () => {
    expectCollectives(await launchWorker('collectives.mjs', 3), 3);
  }, 60_000);

  it('two nodes of two ranks (two launchers meeting at --master-port) number the ranks node by node and agree as one group', async () => {
    const out = collect();
    const masterPort = 20000 + Math.floor(Math.random() * 20000);
    const node = (nodeRank: number) => launch({ script: worker('collectives.mjs'), nprocPerNode: 2, nnodes: 2, nodeRank, masterPort, stdout: out.stream, stderr: out.stream });
    const results = await Promise.all([node(0), node(1)]);
    expect(results.map((r) => r.exitCode), out.text()).toEqual([0, 0]);
    const all = ranksOutput(out.text());
    expect(all.map((r) => [r.rank, r.localRank])).toEqual([[0, 0], [1, 1], [2, 0], [3, 1]]);
    expectCollectives(all, 4);
  }, 60_000);

  it('gradient buckets start as the backward reports them final, and sum small gradients through buckets and large ones where they lie', async () => {
    const reports = await launchWorker('buckets.mjs', 2);
    expect(reports).toHaveLength(2);
    // Σ_rank (100 g + i + rank) = 2 (100 g + i) + 1, and after a second step twice that sum.
    const expected = [3, 20, 5, 7].map((n, g) => Array.from({ length: n }, (_, i) => 2 * (100 * g + i) + 1));
    for (const r of reports) {
      expect(r.buckets).toBe(3);
      // d alone leaves its bucket waiting for c; c starts it; b is a bucket of its own.
      expect(r.started).toEqual([0, 1, 2]);
      expect(r.step1).toEqual(expected);
      expect(r.step2).toEqual(expected.map((g) => g.map((v) => 2 * v)));
      expect(r.errors).toEqual(["the gradient 'd' was reported final twice in one step", "no gradient 'e' is summed over the ranks"]);
    }
  }, 60_000);

  it('ZeRO-1 on 3 ranks steps flat and loose parameters of odd sizes like AdamW on the summed gradients', async () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 1000);
    console.log(`ZeRO-1 test seed ${seed}`);
    const reports = await launchWorker('zero1.mjs', 3, [String(seed)]);
    expect(reports).toHaveLength(3);
    for (const r of reports) {
      for (const [sharded, whole] of r.norms) expect(Math.abs(sharded - whole)).toBeLessThan(1e-5 * whole);
      // bf16 weights: the same f32 master rounds to the same bf16, so they agree as the masters do.
      expect(r.weights).toBeLessThan(1e-5);
      expect(r.state).toBeLessThan(1e-5);
      expect(r.names).toEqual(r.expectedNames);
    }
  }, 60_000);

  it('ranks that disagree about what they train stop together at the start, saying what differs', async () => {
    const reports = await launchWorker('agreement.mjs', 2);
    expect(reports).toHaveLength(2);
    for (const r of reports) {
      expect(r.same).toBeNull();
      expect(r.differing).toMatch(/^DistributedError: the ranks disagree about config; .* Rank \d has config: \{"lr":[12]\}$/);
      expect(r.training).toMatch(/^DistributedError: the ranks disagree about the training config; /);
      expect(r.training).toContain(`"lr":${r.rank === 1 ? '0.001' : '0.0001'}`);
    }
  }, 60_000);

  it('a rank that never arrives is a DistributedError after the timeout, not a hang', async () => {
    const started = Date.now();
    const port = 20000 + Math.floor(Math.random() * 20000);
    await expect(ProcessGroup.init({ rank: 0, worldSize: 2, localRank: 0, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 1500 })).rejects.toThrow(DistributedError);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it('a NaN loss on one rank stops every rank at that step with a TrainingError', async () => {
    const out = collect();
    const result = await launch({ script: worker('nanLoss.mjs'), nprocPerNode: 2, stdout: out.stream, stderr: out.stream });
    expect(result.exitCode, out.text()).toBe(0);
    for (const rank of [0, 1]) {
      expect(out.text()).toContain(`rank ${rank}: TrainingError: step 2 (epoch 1): the loss summed over the ranks is NaN; stopped, the last checkpoint is intact`);
    }
  }, 60_000);

  it('wsi-vqa launch: SIGTERM to the launcher stops every rank and exits with 143', async () => {
    const { launcher, pids } = await startBarrierLoop(2);
    launcher.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => launcher.on('exit', (c) => resolve(c)));
    expect(code).toBe(143);
    expect(pids.filter(alive)).toEqual([]);
  }, 60_000);

  it('wsi-vqa launch: killing one rank stops the others, exits non-zero naming the rank, and leaves no process behind', async () => {
    const { launcher, pids, stderr } = await startBarrierLoop(3);
    const killed = Date.now();
    process.kill(pids[1], 'SIGKILL');
    const code = await new Promise<number | null>((resolve) => launcher.on('exit', (c) => resolve(c)));
    expect(Date.now() - killed).toBeLessThan(20_000);
    expect(code).not.toBe(0);
    expect(stderr()).toMatch(/rank 1 was killed by SIGKILL; the other ranks were stopped/);
    expect(pids.filter(alive)).toEqual([]);
  }, 60_000);
});

/**
 * Process groups: the ranks of a data-parallel run and the collectives between them, as
 * `torch.distributed` has them. Gloo for CPU tensors, NCCL for CUDA tensors. The ranks meet as
 * torchrun and Slurm arrange it: `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`,
 * `MASTER_PORT`, with rank 0 serving the rendezvous store on `MASTER_PORT`.
 */
import { createHash } from 'node:crypto';
import { DistributedError } from '../errors.js';
import { type Device, type NativeProcessGroup, native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { StoreClient, StoreServer } from './store.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'avg';

/** A collective under way; `wait()` once before reading its tensor (on CUDA: before the ops that read it are queued). */
export interface Work {
  wait(): void;
}

/** Where this process stands in a run, as the launcher's environment says. */
export interface Rendezvous {
  rank: number;
  worldSize: number;
  /** The rank on this machine: the CUDA device to use. */
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

export interface ProcessGroupOptions extends Rendezvous {
  /** Default: nccl for a CUDA device, gloo for the CPU. */
  backend?: Backend;
  /** Where this rank's tensors live. Default: `cuda:<localRank>` for nccl, `cpu` for gloo. */
  device?: Device;
  /** How long a rendezvous or a collective may wait for the other ranks. Default 5 minutes. */
  timeoutMs?: number;
}

/**
 * The rendezvous of this process from torchrun's variables (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
 * `MASTER_ADDR`, `MASTER_PORT`), or else from Slurm's (`SLURM_PROCID`, `SLURM_NTASKS`,
 * `SLURM_LOCALID`, with `MASTER_ADDR` set by the job script when it spans nodes). Undefined for a
 * single process. Malformed values are a DistributedError naming the variable.
 */
export function rendezvousFromEnv(env: NodeJS.ProcessEnv = process.env): Rendezvous | undefined {
  const slurm = env.WORLD_SIZE === undefined;
  const name = (torchrun: string, slurmName: string) => (slurm ? slurmName : torchrun);
  const integer = (variable: string, fallback?: number): number => {
    const text = env[variable];
    if (text === undefined && fallback !== undefined) return fallback;
    const value = Number(text);
    if (text === undefined || !/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) throw new DistributedError(`${variable}=${text ?? '(unset)'} is not a non-negative integer`);
    return value;
  };
  const sizeVariable = name('WORLD_SIZE', 'SLURM_NTASKS');
  if (env[sizeVariable] === undefined) return undefined;
  const worldSize = integer(sizeVariable);
  if (slurm && worldSize <= 1) return undefined;
  const rank = integer(name('RANK', 'SLURM_PROCID'));
  if (worldSize < 1 || rank >= worldSize) throw new DistributedError(`${name('RANK', 'SLURM_PROCID')}=${rank} is not in [0, ${sizeVariable}=${worldSize})`);
  if (slurm && env.MASTER_ADDR === undefined && integer('SLURM_NNODES', 1) > 1) {
    throw new DistributedError('a Slurm job over several nodes needs MASTER_ADDR: the first node\'s host, e.g. export MASTER_ADDR=$(scontrol show hostnames "$SLURM_NODELIST" | head -n 1)');
  }
  return {
    rank,
    worldSize,
    localRank: integer(name('LOCAL_RANK', 'SLURM_LOCALID'), rank),
    masterAddr: env.MASTER_ADDR ?? '127.0.0.1',
    masterPort: integer('MASTER_PORT', 29500),
  };
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: Backend;
  readonly device: Device;
  readonly #native: NativeProcessGroup;
  readonly #server?: StoreServer;

  private constructor(options: { rank: number; worldSize: number; backend: Backend; device: Device }, group: NativeProcessGroup, server?: StoreServer) {
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.backend = options.backend;
    this.device = options.device;
    this.#native = group;
    this.#server = server;
  }

  /** Joins the group: every rank of the run calls this with its own rank. */
  static async init(options: ProcessGroupOptions): Promise<ProcessGroup> {
    const { rank, worldSize, masterAddr, masterPort, localRank } = options;
    const device: Device = options.device ?? (options.backend === 'nccl' ? `cuda:${localRank}` : 'cpu');
    const backend: Backend = options.backend ?? (device === 'cpu' ? 'gloo' : 'nccl');
    if ((backend === 'gloo') !== (device === 'cpu')) throw new DistributedError(`the ${backend} backend does not serve ${device} tensors (gloo: cpu, nccl: cuda)`);
    const timeoutMs = options.timeoutMs ?? 300_000;
    const server = rank === 0 ? await StoreServer.listen(masterPort, isLoopback(masterAddr) ? masterAddr : undefined) : undefined;
    const nativeOptions = { rank, worldSize, host: masterAddr, port: masterPort, prefix: `${backend}/`, timeoutMs };
    let store: StoreClient | undefined;
    try {
      store = await StoreClient.connect(masterAddr, masterPort, timeoutMs);
      let group: NativeProcessGroup;
      if (backend === 'gloo') {
        group = await native.connectGloo(nativeOptions);
      } else {
        if (rank === 0) await store.set('nccl/unique-id', native.ncclUniqueId());
        const connecting = native.connectNccl(nativeOptions, Number(device.slice('cuda:'.length)), await store.get('nccl/unique-id'));
        group = await settledWithin(connecting, timeoutMs, `NCCL's set-up on rank ${rank} did not finish within ${timeoutMs} ms: a rank is gone, or the ranks cannot reach each other (NCCL_SOCKET_IFNAME names the interface)`);
      }
      // Rank 0 serves the store from its event loop, which its first (blocking) collective would
      // stop: it starts none until every rank has finished connecting and needs the store no more.
      if (rank > 0) await store.set(`${backend}/connected/${rank}`, new Uint8Array(0));
      else for (let r = 1; r < worldSize; r++) await store.get(`${backend}/connected/${r}`);
      return new ProcessGroup({ rank, worldSize, backend, device }, group, server);
    } catch (error) {
      await server?.close();
      throw error;
    } finally {
      store?.close();
    }
  }

  /** In place: every rank's `tensor` (f32) becomes the sum or mean over ranks. */
  allReduce(tensor: Tensor, op: ReduceOp = 'sum'): void {
    this.#native.allReduce(tensor.native, op);
  }

  /**
   * {@link allReduce} started without waiting, so that computing goes on while the tensor
   * travels; leave `tensor` untouched until `wait()`. Collectives run in the order they are
   * started, waited for or not, so every rank starts the same ones in the same order.
   */
  allReduceAsync(tensor: Tensor, op: ReduceOp = 'sum'): Work {
    const handle = this.#native.allReduceAsync(tensor.native, op);
    return { wait: () => this.#native.wait(handle) };
  }

  /** `input` is `worldSize` equal chunks; this rank's `output` gets the reduction of every rank's chunk `rank`. */
  reduceScatter(input: Tensor, output: Tensor, op: ReduceOp = 'sum'): void {
    this.#native.reduceScatter(input.native, output.native, op);
  }

  /** `output` becomes every rank's `input`, in rank order. */
  allGather(input: Tensor, output: Tensor): void {
    this.#native.allGather(input.native, output.native);
  }

  /** Every rank's `tensor` becomes `root`'s. */
  broadcast(tensor: Tensor, root = 0): void {
    this.#native.broadcast(tensor.native, root);
  }

  barrier(): void {
    this.#native.barrier();
  }

  /** The sums over ranks of a few numbers (losses, token counts), in f64. */
  sum(values: readonly number[]): number[] {
    const buffer = Float64Array.from(values);
    this.#native.allReduceHost(buffer);
    return [...buffer];
  }

  /**
   * Throws a DistributedError on every rank at once unless every rank passed the same facts (by
   * name: what they describe, e.g. the trained parameters or the config), so that ranks started
   * with different files or flags stop at the start, saying what differs, rather than wait in a
   * collective of another size or train apart. Every rank calls it with the same names.
   */
  checkAgreement(facts: Readonly<Record<string, string>>): void {
    const names = Object.keys(facts);
    // The first 8 bytes of each fact's hash, and their squares, summed over the ranks: every
    // rank's bytes are equal exactly when N · Σx² = (Σx)², and both sides are exact in f64 (below
    // 2^53) for up to 2^18 ranks.
    const bytes = names.map((name) => [...createHash('sha256').update(facts[name]).digest().subarray(0, 8)]);
    const sums = this.sum(bytes.flatMap((b) => [...b, ...b.map((x) => x * x)]));
    const differing = names.filter((_, f) => bytes[f].some((_, i) => this.worldSize * sums[16 * f + 8 + i] !== sums[16 * f + i] ** 2));
    if (differing.length === 0) return;
    const shown = (fact: string) => (fact.length <= 300 ? fact : `${fact.slice(0, 300)}…`);
    throw new DistributedError(
      `the ranks disagree about ${differing.join(', ')}; every rank must be started with the same flags and files. Rank ${this.rank} has ${differing.map((name) => `${name}: ${shown(facts[name])}`).join('; ')}`,
    );
  }

  async close(): Promise<void> {
    this.#native.close();
    await this.#server?.close();
  }
}

/**
 * `connecting`'s group, or a DistributedError after `timeoutMs`: NCCL's set-up has no timeout of
 * its own and waits forever for a rank that is gone. A group that arrives too late is closed. The
 * set-up itself goes on in its worker thread: the process should end on the error, as the CLI does.
 */
export function settledWithin<Group extends { close(): void }>(connecting: Promise<Group>, timeoutMs: number, message: string): Promise<Group> {
  let late = false;
  connecting.then((group) => late && group.close(), () => {});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      late = true;
      reject(new DistributedError(message));
    }, timeoutMs);
    connecting.then(
      (group) => (clearTimeout(timer), resolve(group)),
      (error) => (clearTimeout(timer), reject(error)),
    );
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

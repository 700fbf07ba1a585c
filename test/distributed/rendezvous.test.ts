/** Where a rank stands, from torchrun's or Slurm's environment, and the errors of a bad one. */
import { describe, expect, it } from 'vitest';
import { rendezvousFromEnv } from '../../lib/distributed/processGroup.js';
import { DistributedError } from '../../lib/errors.js';

describe('rendezvousFromEnv', () => {
  it('reads torchrun variables, with LOCAL_RANK, MASTER_ADDR and MASTER_PORT defaulted', () => {
    expect(rendezvousFromEnv({ RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: 'node0', MASTER_PORT: '1234' })).toEqual({ rank: 3, worldSize: 4, localRank: 1, masterAddr: 'node0', masterPort: 1234 });
    expect(rendezvousFromEnv({ RANK: '1', WORLD_SIZE: '2' })).toEqual({ rank: 1, worldSize: 2, localRank: 1, masterAddr: '127.0.0.1', masterPort: 29500 });
  });

  it('is undefined for a single process, torchrun-less and Slurm-less, or a one-task Slurm job', () => {
    expect(rendezvousFromEnv({})).toBeUndefined();
    expect(rendezvousFromEnv({ SLURM_NTASKS: '1', SLURM_PROCID: '0' })).toBeUndefined();
  });

  it("falls back to Slurm's variables, and wants MASTER_ADDR when the job spans nodes", () => {
    expect(rendezvousFromEnv({ SLURM_NTASKS: '8', SLURM_PROCID: '5', SLURM_LOCALID: '1', SLURM_NNODES: '1' })).toEqual({ rank: 5, worldSize: 8, localRank: 1, masterAddr: '127.0.0.1', masterPort: 29500 });
    expect(() => rendezvousFromEnv({ SLURM_NTASKS: '8', SLURM_PROCID: '5', SLURM_NNODES: '2' })).toThrow(/needs MASTER_ADDR/);
  });

  it('names the variable that is malformed or out of range', () => {
    expect(() => rendezvousFromEnv({ WORLD_SIZE: '2', RANK: 'one' })).toThrow(new DistributedError('RANK=one is not a non-negative integer'));
    expect(() => rendezvousFromEnv({ WORLD_SIZE: '2' })).toThrow(/RANK=\(unset\)/);
    expect(() => rendezvousFromEnv({ WORLD_SIZE: '2', RANK: '2' })).toThrow(/RANK=2 is not in \[0, WORLD_SIZE=2\)/);
    expect(() => rendezvousFromEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '-1' })).toThrow(/MASTER_PORT=-1/);
  });
});

/** The timeout around NCCL's set-up, which has none of its own (checked here without NCCL). */
import { describe, expect, it } from 'vitest';
import { settledWithin } from '../../lib/distributed/processGroup.js';
import { DistributedError } from '../../lib/errors.js';

/** Something to close, as the native group is: whether it was closed is what matters here. */
function group() {
  const g = { closed: false, close: () => void (g.closed = true) };
  return g;
}
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('settledWithin', () => {
  it('passes on a group that arrives in time, and the error of a set-up that fails', async () => {
    const g = group();
    await expect(settledWithin(after(10, g), 1000, 'late')).resolves.toBe(g);
    expect(g.closed).toBe(false);
    await expect(settledWithin(Promise.reject(new RangeError('bad id')), 1000, 'late')).rejects.toThrow(RangeError);
  });

  it('is a DistributedError after the timeout, and closes the group if it arrives after all', async () => {
    const g = group();
    const started = Date.now();
    await expect(settledWithin(after(300, g), 50, 'rank 1 did not arrive')).rejects.toThrow(new DistributedError('rank 1 did not arrive'));
    expect(Date.now() - started).toBeLessThan(250);
    expect(g.closed).toBe(false);
    await after(400, undefined);
    expect(g.closed).toBe(true);
    await expect(settledWithin(new Promise<{ close(): void }>(() => {}), 50, 'never')).rejects.toThrow(DistributedError);
  });
});

/** How ops fail: typed errors that name the op and the tensor, sync and async, never a crash. */
import { describe, expect, it } from 'vitest';

import { DisposedError, listOps, matmul, matmulAsync, runOp, runOpAsync, ShapeError, Tensor, WsiVqaError } from '../../lib/index.js';

describe('op errors', () => {
  const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = Tensor.from([1, 0, 0, 1, 1, 1], [3, 2]);

  it('reports mismatched shapes as ShapeError naming the tensors', () => {
    const out = Tensor.empty([2, 2]);
    const error = (() => {
      try {
        runOp('matmul', { out, a, b: a });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ShapeError);
    expect(error).toBeInstanceOf(WsiVqaError);
    expect((error as ShapeError).code).toBe('SHAPE_MISMATCH');
    expect((error as Error).message).toMatch(/matmul: inner sizes differ: 'a' \[2, 3\] and 'b' \[2, 3\]/);
  });

  it('reports wrong dtypes with code DTYPE_MISMATCH', () => {
    const ids = Tensor.from(new Int32Array(6), [2, 3]);
    expect(() => matmul(ids, b)).toThrow(expect.objectContaining({ code: 'DTYPE_MISMATCH', message: expect.stringMatching(/must be f32, bf16 or f16, got i32/) }));
  });

  it('rejects unknown ops, unknown and missing arguments, and non-tensors', () => {
    expect(() => runOp('convolve', {})).toThrow(RangeError);
    expect(() => runOp('scale', { out: a, x: a, factor: 2 })).toThrow(/unknown argument 'factor'/);
    expect(() => runOp('scale', { out: a })).toThrow(/tensor argument 'x' is missing/);
    expect(() => runOp('scale', { out: a, x: a, scale: 'two' as unknown as number })).toThrow(TypeError);
  });

  it('refuses disposed tensors', () => {
    const gone = Tensor.zeros([2, 3]);
    gone.dispose();
    expect(() => runOp('scale', { out: a, x: gone })).toThrow(DisposedError);
  });

  it('runs off the event loop and gives the same result as the synchronous call', async () => {
    const sync = matmul(a, b).toFloat32();
    const pending = matmulAsync(a, b);
    expect(pending).toBeInstanceOf(Promise);
    expect(Array.from((await pending).toFloat32())).toEqual(Array.from(sync));
  });

  it('rejects the promise with the typed error', async () => {
    await expect(runOpAsync('matmul', { out: Tensor.empty([2, 2]), a, b: a })).rejects.toBeInstanceOf(ShapeError);
  });

  it('lists every op with its arguments and backends', () => {
    const matmulSchema = listOps().find((op) => op.name === 'matmul');
    expect(matmulSchema).toMatchObject({
      outputs: ['out'],
      inputs: ['a', 'b'],
      optionalInputs: ['bias'],
      attributes: { transA: 'boolean', transB: 'boolean', alpha: 'number', beta: 'number' },
      backends: { cpu: true },
    });
  });
});

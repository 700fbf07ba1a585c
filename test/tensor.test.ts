import { describe, expect, it } from 'vitest';

import { DisposedError, Tensor } from '../lib/index.js';

describe('Tensor', () => {
  it('round-trips every dtype through native memory', () => {
    const f32 = Tensor.from([1.5, -2, 3.25], [3]);
    expect(Array.from(f32.toArray() as Float32Array)).toEqual([1.5, -2, 3.25]);
    expect(Array.from(Tensor.from([1.5, -2, 1e-3], [3], { dtype: 'bf16' }).toFloat32())).toEqual([1.5, -2, 0.00099945068359375]);
    expect(Array.from(Tensor.from([1.5, -2, 65504], [3], { dtype: 'f16' }).toFloat32())).toEqual([1.5, -2, 65504]);
    expect(Array.from(Tensor.from(new Int32Array([7, -8]), [2]).toArray() as Int32Array)).toEqual([7, -8]);
    expect(Array.from(Tensor.from(new BigInt64Array([2n ** 40n]), [1]).toArray() as BigInt64Array)).toEqual([2n ** 40n]);
  });

  it('reads CPU tensors without copying: writes through the array reach the tensor', () => {
    const t = Tensor.zeros([2, 2]);
    const view = t.toArray() as Float32Array;
    view[3] = 42;
    expect((t.toArray() as Float32Array)[3]).toBe(42);
  });

  it('keeps memory an array views alive after dispose()', () => {
    const t = Tensor.from([1, 2, 3], [3]);
    const view = t.toArray() as Float32Array;
    t.dispose();
    expect(Array.from(view)).toEqual([1, 2, 3]);
  });

  it('reshapes and narrows as views of the same memory', () => {
    const t = Tensor.from([0, 1, 2, 3, 4, 5], [3, 2]);
    const rows = t.narrow(1, 3);
    expect(rows.shape).toEqual([2, 2]);
    expect(Array.from(rows.toFloat32())).toEqual([2, 3, 4, 5]);
    (rows.reshape([4]).toArray() as Float32Array)[0] = -1;
    expect(t.toFloat32()[2]).toBe(-1);
    expect(() => t.reshape([4])).toThrow(RangeError);
    expect(() => t.narrow(2, 4)).toThrow(RangeError);
  });

  it('copies to another device', () => {
    const t = Tensor.from([1, 2], [2]);
    const copy = t.to('cpu');
    (copy.toArray() as Float32Array)[0] = 9;
    expect(t.toFloat32()[0]).toBe(1);
  });

  it('is released by dispose() and by using', () => {
    const t = Tensor.zeros([4]);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.toArray()).toThrow(DisposedError);
    let escaped: Tensor;
    {
      using scoped = Tensor.zeros([4]);
      escaped = scoped;
    }
    expect(escaped.disposed).toBe(true);
  });

  it('checks arguments at the boundary, naming them', () => {
    expect(() => Tensor.from([1, 2, 3], [2, 2])).toThrow(/'data' has 3 elements/);
    expect(() => Tensor.zeros([2, -1])).toThrow(RangeError);
    expect(() => Tensor.zeros([2, 1.5])).toThrow(/'shape\[1\]'/);
    expect(() => Tensor.zeros('3' as unknown as number[])).toThrow(TypeError);
    expect(() => Tensor.zeros([2], { dtype: 'f64' as 'f32' })).toThrow(/'dtype' must be one of/);
    expect(() => Tensor.zeros([2], { device: 'gpu' as 'cpu' })).toThrow(/'device' must be 'cpu' or 'cuda:N'/);
    expect(() => Tensor.from(new Uint16Array(2), [2])).toThrow(/bf16 or f16/);
    expect(() => Tensor.from([1.5], [1], { dtype: 'i32' })).toThrow(/not an integer/);
  });
});

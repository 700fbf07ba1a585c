import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, IoError } from '../../lib/errors.js';
import { bfloat16ToFloat32, float16ToFloat32 } from '../../lib/dtype.js';
import { readTorchTensors } from '../../lib/io/torch.js';
import { FIXTURES, coords, pickleBytes, ramp, shortString, tempDir, torchZip, writeTemp } from './helpers.js';

const fixture = (name: string) => join(FIXTURES, name);

describe('readTorchTensors on files written by PyTorch 1.13 (make_pt_fixtures.py)', () => {
  it('reads a lone float32 tensor', async () => {
    const tensors = await readTorchTensors(fixture('f32.pt'));
    const t = tensors.get('')!;
    expect(t.dtype).toBe('F32');
    expect(t.shape).toEqual([3, 4]);
    expect([...(t.data as Float32Array)]).toEqual(Array.from({ length: 12 }, (_, k) => 0.5 * k - 1));
  });

  it('reads a bfloat16 view with a storage offset and a non-contiguous stride', async () => {
    const t = (await readTorchTensors(fixture('bf16_view.pt'))).get('')!;
    expect(t.dtype).toBe('BF16');
    expect(t.shape).toEqual([3, 3]);
    // base[i, j] = 8i + j; view = base[1:4, 1::3].t() → value[a, b] = 8(b + 1) + 1 + 3a
    const expected = [0, 1, 2].flatMap((a) => [0, 1, 2].map((b) => 8 * (b + 1) + 1 + 3 * a));
    expect([...bfloat16ToFloat32(t.data as Uint16Array)]).toEqual(expected);
  });

  it('flattens a dict with features, int64 coords and a nested float64 tensor', async () => {
    const tensors = await readTorchTensors(fixture('dict.pt'));
    expect([...tensors.keys()].sort()).toEqual(['coords', 'features', 'meta.scale']);
    expect(tensors.get('features')!.shape).toEqual([6, 1024]);
    expect(tensors.get('features')!.data).toEqual(ramp(6, 1024));
    const c = tensors.get('coords')!;
    expect(c.dtype).toBe('I64');
    expect([...(c.data as BigInt64Array)].map(Number)).toEqual([...coords(6)]);
    expect(tensors.get('meta.scale')).toEqual({ dtype: 'F64', shape: [2], data: new Float64Array([2, 0.25]) });
  });

  it('reads float16 features', async () => {
    const t = (await readTorchTensors(fixture('feat512.pt'))).get('feats')!;
    expect(t.dtype).toBe('F16');
    expect(t.shape).toEqual([5, 512]);
    expect(float16ToFloat32(t.data as Uint16Array)).toEqual(ramp(5, 512));
  });

  it('reads a module state dict and a Parameter as a checkpoint', async () => {
    const tensors = await readTorchTensors(fixture('checkpoint.pt'));
    expect([...tensors.keys()].sort()).toEqual(['model.bias', 'model.weight', 'temperature']);
    const weight = tensors.get('model.weight')!;
    expect(weight.shape).toEqual([3, 4]);
    expect([...(weight.data as Float32Array)]).toEqual([0, 1, 2].flatMap((o) => [0, 1, 2, 3].map((i) => o - i / 4)));
    expect([...(tensors.get('model.bias')!.data as Float32Array)]).toEqual([0, 0.5, 1]);
    expect([...(tensors.get('temperature')!.data as Float32Array)]).toEqual([0.5]);
  });
});

describe('readTorchTensors on hostile or broken files', () => {
  const dir = tempDir();

  it('refuses a pickle that calls os.system, naming the file and the global', async () => {
    const pickle = pickleBytes(0x80, 2, 0x63, 'os\nsystem\n', ...shortString('touch /tmp/pwned'), 0x85, 0x52, 0x2e);
    const path = writeTemp(dir, 'evil.pt', torchZip('evil', pickle));
    await expect(readTorchTensors(path)).rejects.toThrow(FormatError);
    await expect(readTorchTensors(path)).rejects.toThrow(`${path}: pickle: refusing global os.system`);
  });

  it('reports a truncated zip', async () => {
    const bytes = readFileSync(fixture('dict.pt'));
    const path = writeTemp(dir, 'truncated.pt', bytes.subarray(0, bytes.length >> 1));
    await expect(readTorchTensors(path)).rejects.toThrow(/truncated\.pt: not a complete zip archive.*truncated/);
  });

  it('reports a zip whose entry runs past the end of the file', async () => {
    const bytes = new Uint8Array(readFileSync(fixture('f32.pt')));
    // Grow the central directory's compressed size of the storage entry far past the file.
    const view = new DataView(bytes.buffer);
    for (let at = 0; at < bytes.length - 4; at++) {
      if (view.getUint32(at, true) === 0x02014b50 && new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + view.getUint16(at + 28, true))).endsWith('data/0')) {
        view.setUint32(at + 20, 0x7fffffff, true);
      }
    }
    const path = writeTemp(dir, 'lying-size.pt', bytes);
    await expect(readTorchTensors(path)).rejects.toThrow(/lying-size\.pt: zip entry f32\/data\/0 claims 2147483647 bytes/);
  });

  const rebuild = (storageCount: number, offset: number, size: number[], stride: number[]) => {
    const tuple = (values: number[]) => [0x28, ...values.flatMap((v) => [0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff]), 0x74];
    return pickleBytes(
      0x80, 2,
      0x63, 'torch._utils\n_rebuild_tensor_v2\n',
      0x28,
      0x28, ...shortString('storage'), 0x63, 'torch\nFloatStorage\n', ...shortString('0'), ...shortString('cpu'), ...tuple([storageCount]).slice(1, -1), 0x74,
      0x51,
      ...tuple([offset]).slice(1, -1),
      ...tuple(size),
      ...tuple(stride),
      0x89,
      0x7d,
      0x74,
      0x52,
      0x2e,
    );
  };

  it('refuses views that reach outside their storage or inflate it', async () => {
    const storage = { '0': new Uint8Array(16) }; // 4 float32
    const ok = writeTemp(dir, 'ok.pt', torchZip('ok', rebuild(4, 1, [3], [1]), storage));
    expect((await readTorchTensors(ok)).get('')!.shape).toEqual([3]);
    const outside = writeTemp(dir, 'outside.pt', torchZip('outside', rebuild(4, 2, [3], [1]), storage));
    await expect(readTorchTensors(outside)).rejects.toThrow(/outside\.pt: tensor \(top level\).*reaches element 4 but the storage has 4/);
    const inflated = writeTemp(dir, 'inflated.pt', torchZip('inflated', rebuild(4, 0, [1_000_000, 1_000_000], [0, 0]), storage));
    await expect(readTorchTensors(inflated)).rejects.toThrow(/inflated\.pt: .*more elements \(1000000000000\) than its storage \(4\)/);
    const lyingCount = writeTemp(dir, 'count.pt', torchZip('count', rebuild(1_000_000_000, 0, [3], [1]), storage));
    await expect(readTorchTensors(lyingCount)).rejects.toThrow(/count\.pt: storage 0 claims 1000000000 F32 elements but holds 16 bytes/);
  });

  /** `bytes` with every occurrence of the ASCII text `from` replaced by `to` (of the same length). */
  const replaced = (bytes: Uint8Array, from: string, to: string) => {
    const out = bytes.slice();
    const pattern = new TextEncoder().encode(from);
    for (let at = 0; at + pattern.length <= out.length; at++) {
      if (pattern.every((b, i) => out[at + i] === b)) out.set(new TextEncoder().encode(to), at);
    }
    return out;
  };

  it('refuses ambiguous archives: two entries of one name, a local header naming another, two pickles', async () => {
    const storages = { '0': new Uint8Array(16), '1': new Uint8Array(16) };
    const zip = torchZip('dup', rebuild(4, 0, [4], [1]), storages);
    expect((await readTorchTensors(writeTemp(dir, 'fine.pt', zip))).get('')!.shape).toEqual([4]);
    const twice = writeTemp(dir, 'twice.pt', replaced(zip, 'dup/data/1', 'dup/data/0'));
    await expect(readTorchTensors(twice)).rejects.toThrow(/twice\.pt: zip archive holds two entries named dup\/data\/0: ambiguous, refused/);
    // Rename only the central directory's copy of the name: the local header still says data/1.
    const mismatched = zip.slice();
    const central = new DataView(mismatched.buffer).getUint32(mismatched.length - 22 + 16, true);
    mismatched.set(replaced(mismatched.subarray(central), 'dup/data/1', 'dup/data/2'), central);
    await expect(readTorchTensors(writeTemp(dir, 'renamed.pt', mismatched))).rejects.toThrow(/renamed\.pt: zip entry dup\/data\/2: its local header names it "dup\/data\/1"/);
    const { zipSync } = await import('fflate');
    const twoPickles = zipSync({ 'a/data.pkl': [rebuild(4, 0, [4], [1]), { level: 0 }], 'b/data.pkl': [rebuild(4, 0, [4], [1]), { level: 0 }] });
    await expect(readTorchTensors(writeTemp(dir, 'two.pt', twoPickles))).rejects.toThrow(/two\.pt: zip archive holds 2 pickles \(a\/data\.pkl, b\/data\.pkl\): ambiguous/);
  });

  it('copies a tensor named twice once, and refuses many views of one storage', async () => {
    const tuple = (values: number[]) => [0x28, ...values.flatMap((v) => [0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff]), 0x74];
    // {'a': t, 'b': t, 'views': [t.T, t.T, …]}: t a 64 × 64 view of one float32 storage; t.T strided.
    const views = (count: number) =>
      pickleBytes(
        0x80, 2,
        0x63, 'torch._utils\n_rebuild_tensor_v2\n', 0x71, 0,
        0x28, 0x28, ...shortString('storage'), 0x63, 'torch\nFloatStorage\n', ...shortString('0'), ...shortString('cpu'), 0x4a, 0, 0x10, 0, 0, 0x74, 0x51, 0x71, 1,
        0x4b, 0, ...tuple([64, 64]), ...tuple([64, 1]), 0x74, 0x52, 0x71, 2, // t
        0x30, // pop t; it stays in the memo
        0x7d, 0x28,
        ...shortString('a'), 0x68, 2,
        ...shortString('b'), 0x68, 2,
        ...shortString('views'), 0x5d, 0x28,
        ...Array.from({ length: count }, () => [0x68, 0, 0x28, 0x68, 1, 0x4b, 0, ...tuple([64, 64]), ...tuple([1, 64]), 0x74, 0x52]).flat(),
        0x65,
        0x75, 0x2e,
      );
    const storage = { '0': new Uint8Array(Float32Array.from({ length: 4096 }, (_, i) => i).buffer) };
    const tied = await readTorchTensors(writeTemp(dir, 'tied.pt', torchZip('tied', views(2), storage)));
    expect(tied.get('a')).toBe(tied.get('b'));
    expect([...(tied.get('views.1')!.data as Float32Array).subarray(0, 3)]).toEqual([0, 64, 128]);
    const many = writeTemp(dir, 'many.pt', torchZip('many', views(200), storage));
    await expect(readTorchTensors(many)).rejects.toThrow(/many\.pt: its tensors hold more than \d+ bytes, 4× the file's size \(many views of the same storage\?\): refused/);
  });

  it('refuses compressed entries, non-zip files and archives without data.pkl', async () => {
    const compressed = writeTemp(dir, 'deflated.pt', torchZip('deflated', rebuild(4, 0, [4], [1]), { '0': new Uint8Array(16) }, 6));
    await expect(readTorchTensors(compressed)).rejects.toThrow(/deflated\.pt: zip entry deflated\/data\.pkl is compressed/);
    const legacy = writeTemp(dir, 'legacy.pt', pickleBytes(0x80, 2, 0x8a, 0x0a, 'l\xfc\x9cF\xf9 j\xa8P\x19'));
    await expect(readTorchTensors(legacy)).rejects.toThrow(/legacy\.pt: not a torch\.save zip archive/);
    await expect(readTorchTensors(join(dir, 'missing.pt'))).rejects.toThrow(IoError);
  });
});

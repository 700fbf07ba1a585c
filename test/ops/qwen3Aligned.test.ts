/**
 * Qwen3 ops on fresh (16-byte aligned) tensors, which the harness's guarded outputs are not: the
 * paths CUDA takes for aligned all-bf16 rms_norm and swiglu; and AdamW over several steps against
 * float64, f32 params and bf16 params with an f32 master.
 */
import { describe, expect, it } from 'vitest';

import { roundTo } from '../../lib/dtype.js';
import { adamw, rmsNorm, swiglu, Tensor } from '../../lib/index.js';
import { backends } from './harness.js';
import { Rng } from './random.js';

const normal = (rng: Rng, n: number, scale = 1): Float64Array => Float64Array.from({ length: n }, () => scale * rng.normal());

for (const { device, available } of backends()) {
  describe.skipIf(!available)(`qwen3 ops on aligned tensors, ${device}`, () => {
    for (const [rows, d] of [[3, 2560], [5, 128], [2, 8]]) {
      it(`rms_norm bf16 [${rows}, ${d}] matches float64`, () => {
        const rng = new Rng(5 + d);
        const x = normal(rng, rows * d, 2).map((v) => roundTo('bf16', v));
        const w = normal(rng, d).map((v) => roundTo('bf16', v));
        using xt = Tensor.from(x, [rows, d], { dtype: 'bf16', device });
        using wt = Tensor.from(w, [d], { dtype: 'bf16', device });
        const { out, rstd } = rmsNorm(xt, wt);
        const got = out.toFloat32();
        const gotRstd = rstd.toFloat32();
        out.dispose();
        rstd.dispose();
        for (let r = 0; r < rows; r++) {
          let sum = 0;
          for (let i = 0; i < d; i++) sum += x[r * d + i] ** 2;
          const want = 1 / Math.sqrt(sum / d + 1e-6);
          expect(Math.abs(gotRstd[r] - want)).toBeLessThan(1e-5 * want);
          for (let i = 0; i < d; i++) {
            const y = x[r * d + i] * want * w[i];
            expect(Math.abs(got[r * d + i] - y)).toBeLessThan(1e-3 + 8e-3 * Math.abs(y));
          }
        }
      });
    }

    it('swiglu bf16 [4, 1024] matches float64', () => {
      const n = 4 * 1024;
      const rng = new Rng(3);
      const gate = normal(rng, n, 3).map((x) => roundTo('bf16', x));
      const up = normal(rng, n).map((x) => roundTo('bf16', x));
      using g = Tensor.from(gate, [4, 1024], { dtype: 'bf16', device });
      using u = Tensor.from(up, [4, 1024], { dtype: 'bf16', device });
      using out = swiglu(g, u);
      const got = out.toFloat32();
      for (let i = 0; i < n; i++) {
        const want = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
        expect(Math.abs(got[i] - want)).toBeLessThan(1e-6 + 8e-3 * Math.abs(want));
      }
    });

    for (const dtype of ['f32', 'bf16'] as const) {
      it(`adamw: 6 steps of ${dtype} params${dtype === 'f32' ? '' : ' with an f32 master'} match float64`, () => {
        const n = 1031;
        const rng = new Rng(7);
        const f = Math.fround; // the hyperparameters reach the op as f32
        const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.05, gradScale: 0.5 };
        const p = normal(rng, n).map((x) => roundTo(dtype, x));
        const m = new Float64Array(n);
        const v = new Float64Array(n);
        using param = Tensor.from(p, [n], { dtype, device });
        using master = Tensor.from(p, [n], { device });
        using mt = Tensor.zeros([n], { device });
        using vt = Tensor.zeros([n], { device });
        for (let step = 1; step <= 6; step++) {
          const g = normal(rng, n, 0.1 * step).map((x) => roundTo(dtype, x));
          using grad = Tensor.from(g, [n], { dtype, device });
          adamw(param, grad, { m: mt, v: vt, master: dtype === 'f32' ? undefined : master }, { ...hyper, step });
          for (let i = 0; i < n; i++) {
            const gi = g[i] * f(hyper.gradScale);
            m[i] = f(hyper.beta1) * m[i] + (1 - f(hyper.beta1)) * gi;
            v[i] = f(hyper.beta2) * v[i] + (1 - f(hyper.beta2)) * gi * gi;
            const denom = Math.sqrt(v[i]) / Math.sqrt(1 - f(hyper.beta2) ** step) + f(hyper.eps);
            p[i] = p[i] * (1 - f(hyper.lr) * f(hyper.weightDecay)) - (f(hyper.lr) / (1 - f(hyper.beta1) ** step)) * (m[i] / denom);
          }
        }
        const got = (dtype === 'f32' ? param : master).toFloat32();
        for (let i = 0; i < n; i++) expect(Math.abs(got[i] - p[i])).toBeLessThan(1e-5 * (1 + Math.abs(p[i])));
        if (dtype === 'bf16') {
          const rounded = param.toFloat32();
          for (let i = 0; i < n; i++) expect(rounded[i]).toBe(roundTo('bf16', got[i]));
        }
      });
    }
  });
}

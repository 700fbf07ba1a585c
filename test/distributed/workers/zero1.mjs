// One rank of the ZeRO-1 test on 3 ranks: parameters of odd sizes, so that every buffer has a
// tail of elements no rank's chunk holds. Three bf16 parameters are views of one flat buffer (as
// the LLM's are, sharded in place), an f32 and a bf16 one are loose (copied into buffers of the
// optimizer's). ShardedAdamW steps them three times on gradients that depend on the rank; AdamW
// alone steps a copy on the sum of every rank's gradients. Prints the largest differences of the
// weights, of the gradient norms and of the saved state.
import { AdamW, ProcessGroup, ShardedAdamW, Tensor, rendezvousFromEnv } from '../../../dist/index.js';

const group = await ProcessGroup.init({ ...rendezvousFromEnv(), timeoutMs: 20000 });
const seed = Number(process.argv[2] ?? 0);
const value = (name, i) => Math.cos(seed + name.length * 3.1 + i * 0.7);
const gradient = (name, i, rank, step) => Math.sin(seed + name.length + i * 1.3 + rank * 0.9 + step * 2.2);

function parameters() {
  const flatNames = [['flat.a', [3, 5]], ['flat.bb', [7]], ['flat.ccc', [2, 2]]];
  const total = flatNames.reduce((n, [, shape]) => n + shape.reduce((a, b) => a * b, 1), 0);
  const values = Tensor.from(Float32Array.from({ length: total }, (_, i) => value('flat', i)), [total], { dtype: 'bf16' });
  const grads = Tensor.zeros([total]);
  let offset = 0;
  const params = flatNames.map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const [v, g] = [values.narrow(offset, offset + n).reshape(shape), grads.narrow(offset, offset + n).reshape(shape)];
    offset += n;
    return { name, value: v, grad: g };
  });
  for (const [name, n, dtype] of [['loose.x', 5, 'f32'], ['loose.yy', 4, 'bf16']]) {
    params.push({ name, value: Tensor.from(Float32Array.from({ length: n }, (_, i) => value(name, i)), [n], { dtype }), grad: Tensor.zeros([n]) });
  }
  return { params, flat: [{ values, grads, names: flatNames.map(([name]) => name) }] };
}

const setGrads = (params, ranks, step) => {
  for (const { name, grad } of params) {
    const sums = Float32Array.from({ length: grad.numel }, (_, i) => ranks.reduce((s, r) => s + gradient(name, i, r, step), 0));
    grad.toArray().set(sums);
  }
};
const hyper = (step) => ({ lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step, gradScale: 0.5 });

const sharded = parameters();
const reference = parameters();
const zero = new ShardedAdamW(sharded.params, group, sharded.flat);
const adam = new AdamW(reference.params);
const norms = [];
for (let step = 1; step <= 3; step++) {
  setGrads(sharded.params, [group.rank], step);
  zero.reduceGradients();
  setGrads(reference.params, [0, 1, 2], step);
  norms.push([zero.gradNorm(), adam.gradNorm()]);
  zero.step(hyper(step));
  adam.step(hyper(step));
}
const largest = (a, b) => a.toFloat32().reduce((m, x, i) => Math.max(m, Math.abs(x - b.toFloat32()[i])), 0);
const weights = Math.max(...sharded.params.map((p, i) => largest(p.value, reference.params[i].value)));
const state = zero.stateTensors();
const expectedState = adam.stateTensors().tensors;
const stateDifference = Math.max(...[...expectedState].map(([name, t]) => largest(state.tensors.get(name), t)));
console.log(JSON.stringify({ rank: group.rank, norms, weights, state: stateDifference, names: [...state.tensors.keys()].sort(), expectedNames: [...expectedState.keys()].sort() }));
state.dispose();
await group.close();

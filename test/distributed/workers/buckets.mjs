// One rank of the gradient-bucket test: gradients a, b, c, d of 3, 20, 5 and 7 elements with
// 64-byte buckets (16 floats). Taken in backward order, d and c share a bucket, b (20) is summed
// where it lies, a has one of its own. Step 1 reports d, c, b final one by one, as a backward
// pass would, and notes how many buckets had started after each; step 2 reports nothing. Prints
// the sums after each step, the started counts and the errors of two bad reports.
import { GradientBuckets, ProcessGroup, Tensor, rendezvousFromEnv } from '../../../dist/index.js';

const group = await ProcessGroup.init({ ...rendezvousFromEnv(), timeoutMs: 20000 });
const sizes = { a: 3, b: 20, c: 5, d: 7 };
const grads = Object.entries(sizes).map(([name, n], g) => ({
  name,
  grad: Tensor.from(Float32Array.from({ length: n }, (_, i) => 100 * g + i + group.rank), [n]),
}));
const buckets = new GradientBuckets(group, grads, 64);
const started = [];
for (const name of ['d', 'c', 'b']) {
  buckets.ready([name]);
  started.push(buckets.started);
}
buckets.sum();
const step1 = grads.map(({ grad }) => [...grad.toFloat32()]);
buckets.sum();
const step2 = grads.map(({ grad }) => [...grad.toFloat32()]);
const errors = [];
for (const names of [['d', 'd'], ['e']]) {
  try {
    buckets.ready(names);
  } catch (error) {
    errors.push(error.message);
  }
}
console.log(JSON.stringify({ rank: group.rank, buckets: buckets.size, started, step1, step2, errors }));
buckets.dispose();
await group.close();

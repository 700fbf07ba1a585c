// One rank of the gradient-bucket test: gradients of 3, 20, 5 and 7 elements with 64-byte buckets
// (16 floats), so the 20 is summed where it lies and the others in two buckets; prints the sums.
import { GradientBuckets, ProcessGroup, Tensor, rendezvousFromEnv } from '../../../dist/index.js';

const group = await ProcessGroup.init({ ...rendezvousFromEnv(), timeoutMs: 20000 });
const grads = [3, 20, 5, 7].map((n, g) => Tensor.from(Float32Array.from({ length: n }, (_, i) => 100 * g + i + group.rank), [n]));
const buckets = new GradientBuckets(group, grads, 64);
buckets.sum();
console.log(JSON.stringify({ rank: group.rank, sums: grads.map((t) => [...t.toFloat32()]) }));
buckets.dispose();
await group.close();

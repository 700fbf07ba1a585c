// One rank of the collectives test: joins the Gloo group from torchrun's variables, runs every
// collective on values that depend on its rank, and prints what it got as one JSON line.
import { ProcessGroup, Tensor, rendezvousFromEnv } from '../../../dist/index.js';

const rendezvous = rendezvousFromEnv();
const group = await ProcessGroup.init({ ...rendezvous, timeoutMs: Number(process.env.TEST_TIMEOUT_MS ?? 20000) });
const { rank, worldSize } = group;
const values = (n, f) => Float32Array.from({ length: n }, (_, i) => f(i));

const summed = Tensor.from(values(5, (i) => (rank + 1) * (i + 1)), [5]);
group.allReduce(summed, 'sum');
const averaged = Tensor.from(values(3, (i) => rank * 10 + i), [3]);
group.allReduce(averaged, 'avg');
const scattered = Tensor.zeros([2]);
group.reduceScatter(Tensor.from(values(2 * worldSize, (i) => i + rank), [2 * worldSize]), scattered, 'sum');
const gathered = Tensor.zeros([3 * worldSize], { dtype: 'bf16' });
group.allGather(Tensor.from(values(3, (i) => rank * 3 + i), [3], { dtype: 'bf16' }), gathered);
const broadcast = Tensor.from(values(4, (i) => rank === 1 ? i + 0.5 : -1), [4]);
group.broadcast(broadcast, 1);
// Two all-reduces started, a blocking collective after them, the waits in the other order.
const early = Tensor.from(values(4, (i) => rank + i), [4]);
const earlyWork = group.allReduceAsync(early);
const late = Tensor.from(values(2, (i) => rank * (i + 1)), [2]);
const lateWork = group.allReduceAsync(late, 'avg');
group.barrier();
lateWork.wait();
earlyWork.wait();
const sums = group.sum([rank, 0.1]);
if (process.env.TEST_DIE_RANK === String(rank)) process.exit(3);
if (process.env.TEST_DIE_RANK !== undefined) group.barrier();
console.log(JSON.stringify({
  rank,
  localRank: rendezvous.localRank,
  summed: [...summed.toFloat32()],
  averaged: [...averaged.toFloat32()],
  scattered: [...scattered.toFloat32()],
  gathered: [...gathered.toFloat32()],
  broadcast: [...broadcast.toFloat32()],
  early: [...early.toFloat32()],
  late: [...late.toFloat32()],
  sums,
}));
await group.close();

// A rank that joins the group, says so with its pid, then meets the others at a barrier every
// 50 ms until it is stopped: a stand-in for a training loop, for the launcher's failure test.
import { ProcessGroup, rendezvousFromEnv } from '../../../dist/index.js';

const group = await ProcessGroup.init({ ...rendezvousFromEnv(), timeoutMs: 10000 });
console.log(`ready ${group.rank} ${process.pid}`);
for (;;) {
  group.barrier();
  await new Promise((resolve) => setTimeout(resolve, 50));
}

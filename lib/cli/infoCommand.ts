import type { Command } from 'commander';

import { info } from '../info.js';

/** `wsi-vqa info [--json]`: the version, the backends this build has and this machine offers, the ops. */
export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('show the version, the CPU, CUDA and Gloo backends, and the ops')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const report = info();
      if (options.json) {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      const { cpu, cuda } = report.backends;
      console.log(`wsi-vqa ${report.version}`);
      console.log(`cpu:  available (${cpu.threads} threads, ${cpu.gemm} GEMM)`);
      if (!cuda.compiled) console.log(`cuda: not compiled in (${cuda.reason})`);
      else if (!cuda.available) console.log(`cuda: compiled, not available (${cuda.reason})`);
      else for (const d of cuda.devices) console.log(`cuda:${d.index} ${d.name} (sm ${d.computeCapability}, ${(d.memoryBytes / 2 ** 30).toFixed(1)} GiB)`);
      if (cuda.compiled) console.log(`      cuBLASLt: ${cuda.cublasLt ?? 'not found'}; NCCL: ${cuda.nccl ?? 'not found'}`);
      console.log(`gloo: ${report.backends.gloo.compiled ? 'compiled (multi-process training on CPUs)' : 'not compiled in (install libgloo-dev and rebuild for multi-process CPU training)'}`);
      console.log(`ops:  ${report.ops.join(', ')}`);
    });
}

/** `wsi-vqa launch`: runs a script on several ranks, as torchrun does. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describeFailure, launch } from '../distributed/launch.js';
import { integerOption, portOption, positiveIntegerOption } from './options.js';

const THIS_COMMAND = fileURLToPath(new URL('./wsi-vqa.js', import.meta.url));

interface LaunchFlags {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort?: number;
}

export function registerLaunchCommand(program: Command): void {
  program
    .command('launch')
    .description('run SCRIPT on N ranks per node with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set (torchrun\'s variables); if a rank fails, stop the others')
    .argument('<script>', "the script each rank runs with node; 'wsi-vqa' is this command itself (wsi-vqa launch … wsi-vqa -- train …)")
    .argument('[args...]', 'its arguments, after --')
    .requiredOption('--nproc-per-node <n>', 'ranks on this node (one per GPU)', positiveIntegerOption)
    .option('--nnodes <n>', 'nodes in the run', positiveIntegerOption, 1)
    .option('--node-rank <n>', "this node's index", integerOption, 0)
    .option('--master-addr <host>', "rank 0's host", '127.0.0.1')
    .option('--master-port <port>', "rank 0's rendezvous port (default: a free port on one node, 29500 on several)", portOption)
    .action(async (script: string, args: string[], flags: LaunchFlags) => {
      const target = script === 'wsi-vqa' && !existsSync(script) ? THIS_COMMAND : script;
      const result = await launch({ script: target, args, nprocPerNode: flags.nprocPerNode, nnodes: flags.nnodes, nodeRank: flags.nodeRank, masterAddr: flags.masterAddr, masterPort: flags.masterPort });
      if (result.failure) process.stderr.write(`wsi-vqa launch: ${describeFailure(result.failure)}\n`);
      process.exitCode = result.exitCode;
    });
}

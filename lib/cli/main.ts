/** The `wsi-vqa` command (run through wsi-vqa.ts). Each subcommand lives in its own file and registers itself here. */
import { Command } from 'commander';

import { version } from '../info.js';
import { registerBenchCommand } from './benchCommand.js';
import { registerAskCommand } from './askCommand.js';
import { registerDataCommand } from './dataCommand.js';
import { registerDemoCommand } from './demoCommand.js';
import { registerEvalCommand } from './evalCommand.js';
import { registerInfoCommand } from './infoCommand.js';
import { registerLaunchCommand } from './launchCommand.js';
import { registerSynthCommand } from './synthCommand.js';
import { registerTrainCommand } from './trainCommand.js';

const program = new Command('wsi-vqa')
  .description('Whole-slide-image visual question answering: train, evaluate and serve on the CPU or CUDA')
  .version(version)
  .option('--verbose', 'print the stack trace of an error (also WSI_VQA_VERBOSE=1)');

registerInfoCommand(program);
registerBenchCommand(program);
registerDataCommand(program);
registerSynthCommand(program);
registerDemoCommand(program);
registerTrainCommand(program);
registerEvalCommand(program);
registerAskCommand(program);
registerLaunchCommand(program);

await program.parseAsync(process.argv);

/** The options that say where a VQA model's parts come from, shared by train, eval and ask. */
import type { Command } from 'commander';
import type { Device } from '../native.js';

export interface ModelFlags {
  llmPath?: string;
  moeCheckpoint?: string;
  loadProjector?: string;
  device: string;
}

/** Adds --llm-path (required unless `llmOptional`), --moe-checkpoint, --load-projector and --device. */
export function withModelOptions(command: Command, options: { llmOptional?: boolean } = {}): Command {
  const llmHelp = 'Hugging Face Qwen3 folder (config.json, model.safetensors, tokenizer)';
  return (options.llmOptional ? command.option('--llm-path <dir>', `${llmHelp}; stages 1 and 2`) : command.requiredOption('--llm-path <dir>', llmHelp))
    .option('--moe-checkpoint <file>', 'compressor: our compressor.safetensors or TC-SSA moe_best.pt (default: random)')
    .option('--load-projector <file>', 'projector: our projector.safetensors or a PyTorch projector.pt (default: random)')
    .option('--device <device>', 'cpu or cuda:N', 'cpu');
}

/** The flags as the API's model sources (`llmPath` is checked by the call that needs it). */
export function modelSources(flags: ModelFlags): { llmPath: string; compressorPath?: string; projectorPath?: string; device: Device } {
  return { llmPath: flags.llmPath!, compressorPath: flags.moeCheckpoint, projectorPath: flags.loadProjector, device: flags.device as Device };
}

/** Sizes of Qwen3-4B (Qwen3-4B-Instruct-2507), the default shapes of the microbenchmarks. */
export const QWEN3_4B = {
  hidden: 2560,
  intermediate: 9728,
  queryHeads: 32,
  keyValueHeads: 8,
  headDim: 128,
  vocab: 151_936,
} as const;

/** Tokens per benchmark call: a 2 048-token sequence on a GPU; fewer on the CPU, so a run takes seconds. */
export function defaultTokens(device: string): number {
  return device === 'cpu' ? 64 : 2048;
}

/** Patches of the slide the compressor benchmark compresses: SlideChat's 10 240 on a GPU, 16 per token on the CPU. */
export function defaultPatches(device: string, tokens: number): number {
  return device === 'cpu' ? 16 * tokens : 10_240;
}

/**
 * wsi-vqa: whole-slide-image visual question answering from Node — tensors and ops over a
 * C++/CUDA core, and (as the library grows) the slide compressor, projector and Qwen3 model,
 * training, generation and evaluation.
 * @packageDocumentation
 */
export * from './errors.js';
export { Tensor } from './tensor.js';
export type { TensorData, TensorOptions } from './tensor.js';
export type { Device, DType, BackendsInfo, CudaDeviceInfo, OpSchema } from './native.js';
export { DTYPES, DTYPE_BYTES } from './dtype.js';
export type { AnyTypedArray, TypedArrayFor } from './dtype.js';
export * from './ops.js';
export { info, version } from './info.js';
export type { LibraryInfo } from './info.js';
export { benchmarkOps, benchmarkableOps } from './bench/run.js';
export type { BenchOptions, BenchResult } from './bench/run.js';
export * from './text/index.js';
export * from './io/index.js';
export * from './data/index.js';
export * from './layers.js';
export * from './projector.js';
export * from './crossEntropy.js';
export * from './moe.js';
export * from './compressorState.js';
export * from './projectorState.js';
export * from './model/index.js';
export * from './qwen3Ops.js';
export * from './train/index.js';
export * from './vqa/index.js';
export * from './eval/index.js';
export * from './distributed/index.js';
export * from './api/index.js';
export { makeSyntheticDataset, type SynthDataset, type SynthOptions } from './demo/synth.js';
// Types that public signatures mention (a forward's state, tokenizer files, report sections).
export type { LayerActivations, LayerContext, LayerWeights } from './model/qwen3Layer.js';
export type { ActivationArena, Allocate } from './model/activationArena.js';
export type { AddedTokenJson, TokenSetting } from './text/tokenizer.js';
export type { ReportBlock, ReportSection } from './report/html.js';

export { ProcessGroup, rendezvousFromEnv } from './processGroup.js';
export type { Backend, ProcessGroupOptions, ReduceOp, Rendezvous, Work } from './processGroup.js';
export { StoreClient, StoreServer } from './store.js';
export { GradientBuckets, BUCKET_BYTES } from './gradientBuckets.js';
export type { GradReduceDtype, NamedGradient } from './gradientBuckets.js';
export { ShardedAdamW } from './shardedAdamW.js';
export { describeFailure, launch } from './launch.js';
export type { LaunchOptions, LaunchResult } from './launch.js';

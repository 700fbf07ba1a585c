/**
 * Typed errors. Every failure the library reports is a {@link WsiVqaError} with a stable `code`,
 * so callers can `instanceof` or switch on `code`. Argument misuse at the API boundary is a plain
 * `TypeError` / `RangeError` whose message names the argument.
 *
 * The native core throws the same classes: they are handed to the addon when it loads.
 */

/** The stable error codes. */
export type ErrorCode =
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'UNSUPPORTED'
  | 'CUDA_ERROR'
  | 'OUT_OF_MEMORY'
  | 'MISSING_LIBRARY'
  | 'IO_ERROR'
  | 'FORMAT_ERROR'
  | 'DISPOSED'
  | 'DISTRIBUTED_ERROR'
  | 'CONFIG_ERROR'
  | 'TRAINING_ERROR'
  | 'INTERNAL';

/** Base class of every error the library throws on purpose. */
export class WsiVqaError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'INTERNAL', options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Tensors whose shapes or dtypes do not fit the operation (code `SHAPE_MISMATCH` or `DTYPE_MISMATCH`). */
export class ShapeError extends WsiVqaError {
  constructor(message: string, code: 'SHAPE_MISMATCH' | 'DTYPE_MISMATCH' = 'SHAPE_MISMATCH', options?: ErrorOptions) {
    super(message, code, options);
  }
}

/** An operation that the chosen backend or dtype does not implement. */
export class UnsupportedError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'UNSUPPORTED', options);
  }
}

/** A CUDA runtime or kernel failure. */
export class CudaError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'CUDA_ERROR', options);
  }
}

/** An allocation that the host or the device refused. */
export class OutOfMemoryError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'OUT_OF_MEMORY', options);
  }
}

/** A shared library needed at run time (cuBLASLt, NCCL) that could not be found. */
export class MissingLibraryError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'MISSING_LIBRARY', options);
  }
}

/** A file that could not be read or written. The message names the file. */
export class IoError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'IO_ERROR', options);
  }
}

/** Content that does not follow its format: a malformed row, a lying header, NaN features. The message names the file and where. */
export class FormatError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'FORMAT_ERROR', options);
  }
}

/** A tensor or model used after `dispose()`. */
export class DisposedError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'DISPOSED', options);
  }
}

/** A collective or the rendezvous of a multi-process run that failed: a rank died, left or did not arrive in time. */
export class DistributedError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'DISTRIBUTED_ERROR', options);
  }
}

/** Settings that do not validate (a training config, CLI flags). The message names every bad key. */
export class ConfigError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'CONFIG_ERROR', options);
  }
}

/** A training run that cannot go on (a NaN or infinite loss). The message names the step; the last checkpoint is intact. */
export class TrainingError extends WsiVqaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'TRAINING_ERROR', options);
  }
}

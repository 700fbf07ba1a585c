/**
 * Memory that slide features are read into, and the scan that finds a value that is not finite:
 * in the native addon, which backs large buffers with huge pages (first touching 160 MB of fresh
 * 4 KiB pages costs more than reading it) and scans at memory speed.
 */
import { native } from '../native.js';

/** Buffers from this size up come from the addon; smaller ones are plain Buffers. */
const NATIVE_BUFFER_BYTES = 1 << 20;

/** `bytes` bytes of fresh memory, not zeroed: the caller overwrites all of them. */
export function uninitializedBytes(bytes: number): Uint8Array {
  if (bytes >= NATIVE_BUFFER_BYTES) return new Uint8Array(native.hostBuffer(bytes));
  return new Uint8Array(Buffer.allocUnsafeSlow(bytes).buffer, 0, bytes);
}

/** Index of the first infinite or NaN value of `values`, or -1 when all are finite. */
export function firstNonFinite(values: Float32Array): number {
  return native.findNonFinite(values);
}

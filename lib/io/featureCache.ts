/**
 * A least-recently-used cache of parsed slides, bounded by bytes, so a slide asked about by
 * several questions is parsed once per epoch. Concurrent reads of one slide share one parse.
 */
import type { SlideFeatures } from './features.js';

/** Default bound of a {@link FeatureCache}: 2 GiB, about 500 slides of 1 000 patches × 1024 float32. */
export const DEFAULT_FEATURE_CACHE_BYTES = 2 * 1024 ** 3;

/** A byte-bounded LRU cache of loaded slides, keyed by string; entries are shared, treat them as read-only. */
export class FeatureCache {
  private readonly entries = new Map<string, SlideFeatures>();
  private readonly loading = new Map<string, Promise<SlideFeatures>>();
  private bytes = 0;

  /** @param maxBytes bound on the bytes held (default {@link DEFAULT_FEATURE_CACHE_BYTES}); a larger value is returned but not kept. */
  constructor(readonly maxBytes: number = DEFAULT_FEATURE_CACHE_BYTES) {
    if (!(maxBytes >= 0)) throw new RangeError(`FeatureCache: maxBytes must be >= 0, got ${maxBytes}`);
  }

  /** Bytes currently held. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Entries currently held. */
  get size(): number {
    return this.entries.size;
  }

  /** The cached slide of `key`, or the result of `load()` (stored, evicting the least recently used). */
  async get(key: string, load: () => Promise<SlideFeatures>): Promise<SlideFeatures> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const pending = this.loading.get(key);
    if (pending) return pending;
    const promise = load().then(
      (value) => {
        this.loading.delete(key);
        this.store(key, value);
        return value;
      },
      (error: unknown) => {
        this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, promise);
    return promise;
  }

  /** Drops every entry (for example at the start of an epoch over a different slide set). */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private store(key: string, value: SlideFeatures): void {
    if (slideBytes(value) > this.maxBytes) return;
    this.entries.set(key, value);
    this.bytes += slideBytes(value);
    for (const [oldKey, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldKey);
      this.bytes -= slideBytes(old);
    }
  }
}

function slideBytes(slide: SlideFeatures): number {
  return slide.features.byteLength + (slide.coords?.byteLength ?? 0);
}

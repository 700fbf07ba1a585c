/** Seeded random numbers for tests: every case's inputs replay from its printed seed. */

/** The run's base seed: `WSI_TEST_SEED` to replay a failure, else fresh each run. */
export const baseSeed: number = process.env.WSI_TEST_SEED
  ? Number(process.env.WSI_TEST_SEED)
  : Math.floor(Math.random() * 2 ** 31);

/** A seed for one case, derived from the base seed and the case's name. */
export function caseSeed(name: string): number {
  let h = baseSeed ^ 0x9e3779b9;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x85ebca6b) >>> 0;
  return h >>> 0;
}

/** mulberry32: small, fast, good enough to make test inputs. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}

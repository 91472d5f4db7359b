/**
 * A small seeded pseudo-random generator (mulberry32): the one source of randomness for data generation, splits
 * and sampling, so one seed reproduces a run. Not for cryptography.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Index drawn with probability proportional to `weights`; `total` is their sum in index order when known. */
  weighted(weights: ArrayLike<number>, total = sumInOrder(weights)): number {
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** The generator's state, to save in a checkpoint and restore with {@link Random.fromState}. */
  getState(): number {
    return this.state;
  }

  static fromState(state: number): Random {
    const random = new Random(0);
    random.state = state >>> 0;
    return random;
  }
}

/** Σ values, added left to right (the order fixes the rounding, and with it every weighted draw). */
function sumInOrder(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

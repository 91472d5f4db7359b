import { compareAllPairs, compareConditions, mcnemarExact, pairedBootstrapCI, quantileSorted, seedSummary, nestedSeedSummary, studentTCdf, studentTQuantile } from '../../lib/eval/stats';

describe('mcnemarExact', () => {
  it('gives the two-sided binomial p-value on the discordant pairs, computed by hand', () => {
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(1, 0)).toBe(1); // 2 * P(X <= 0 | n = 1) = 2 * 1/2
    expect(mcnemarExact(5, 0)).toBeCloseTo(2 / 32, 15); // 2 * (1/2)^5
    expect(mcnemarExact(0, 5)).toBeCloseTo(2 / 32, 15);
    expect(mcnemarExact(2, 8)).toBeCloseTo((2 * (1 + 10 + 45)) / 1024, 15); // 2 * (C(10,0)+C(10,1)+C(10,2)) / 2^10
    expect(mcnemarExact(8, 2)).toBeCloseTo(112 / 1024, 15);
    expect(mcnemarExact(3, 3)).toBe(1); // 2 * 42/64 > 1
    expect(mcnemarExact(1, 6)).toBeCloseTo((2 * (1 + 7)) / 128, 15);
  });

  it('stays finite for large counts and rejects non-counts', () => {
    const p = mcnemarExact(600, 400); // z = 200 / sqrt(1000) = 6.32: p around 2.6e-10
    expect(p).toBeGreaterThan(1e-11);
    expect(p).toBeLessThan(1e-9);
    expect(() => mcnemarExact(-1, 2)).toThrow(/b must be a non-negative integer/);
    expect(() => mcnemarExact(1, 0.5)).toThrow(/c must be a non-negative integer/);
  });
});

describe('pairedBootstrapCI', () => {
  it('covers the only possible means of two pairs: 0 and 1', () => {
    // differences [0, 1]: a resampled mean is 0 (p 1/4), 1/2 (p 1/2) or 1 (p 1/4), so the 2.5% and 97.5% points are 0 and 1
    expect(pairedBootstrapCI([0, 0], [0, 1], { seed: 3 })).toEqual([0, 1]);
    expect(pairedBootstrapCI([1, 1, 1], [1, 1, 1])).toEqual([0, 0]);
  });

  it('matches the closed form mean ± 1.96 · sqrt(var/n) for many pairs, and is reproducible by seed', () => {
    // 400 pairs: 60 only B right, 20 only A right, 320 tied -> mean 0.1, population variance 80/400 - 0.01 = 0.19
    const a = [...Array(60).fill(0), ...Array(20).fill(1), ...Array(320).fill(1)];
    const b = [...Array(60).fill(1), ...Array(20).fill(0), ...Array(320).fill(1)];
    const half = 1.959964 * Math.sqrt(0.19 / 400);
    const [lo, hi] = pairedBootstrapCI(a, b, { seed: 7, resamples: 20_000 });
    expect(Math.abs(lo - (0.1 - half))).toBeLessThan(0.004);
    expect(Math.abs(hi - (0.1 + half))).toBeLessThan(0.004);
    expect(pairedBootstrapCI(a, b, { seed: 7, resamples: 20_000 })).toEqual([lo, hi]);
  });

  it('refuses unpaired input', () => {
    expect(() => pairedBootstrapCI([1, 0], [1])).toThrow(/2 values against 1/);
    expect(() => pairedBootstrapCI([], [])).toThrow(/no pairs/);
  });
});

describe('quantileSorted', () => {
  it('interpolates linearly between order statistics', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([0, 10], 0.025)).toBeCloseTo(0.25, 12);
  });
});

describe('compareConditions', () => {
  it('counts discordant pairs, the difference in points, and the McNemar p-value', () => {
    const distilled = { condition: 'distilled', correct: [true, true, false, false, false, true, false, false, false, false] };
    const rl = { condition: 'rl', correct: [true, false, true, true, true, true, true, false, false, false] };
    const c = compareConditions(distilled, rl, { seed: 1 });
    expect(c).toMatchObject({ a: 'distilled', b: 'rl', n: 10, onlyA: 1, onlyB: 4 });
    expect(c.diff).toBeCloseTo(30, 12); // (6 - 3) / 10 right
    expect(c.pValue).toBeCloseTo((2 * (1 + 5)) / 32, 15); // n = 5 discordant, min 1
    expect(c.ci95[0]).toBeLessThanOrEqual(c.diff);
    expect(c.ci95[1]).toBeGreaterThanOrEqual(c.diff);
    expect(() => compareConditions(distilled, { condition: 'rl', correct: [true] })).toThrow(/"distilled" has 10 questions, "rl" 1/);
  });

  it('compares every pair, later against earlier', () => {
    const pairs = compareAllPairs(['x', 'y', 'z'].map((condition) => ({ condition, correct: [true, false] })));
    expect(pairs.map((p) => `${p.b}-${p.a}`)).toEqual(['y-x', 'z-x', 'z-y']);
  });
});

describe('Student t and seedSummary', () => {
  it('gives the tabulated 97.5% quantiles', () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062047, 5);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.30265273, 6);
    expect(studentTQuantile(0.975, 5)).toBeCloseTo(2.57058184, 6);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.22813885, 6);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.04227246, 6);
    expect(studentTCdf(0, 4)).toBeCloseTo(0.5, 14);
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 12); // Cauchy: 1/2 + atan(1)/pi
  });

  it('gives mean, sample std and the t-interval over seeds', () => {
    const s = seedSummary([1, 2, 3]);
    expect(s.mean).toBe(2);
    expect(s.std).toBe(1);
    expect(s.ci95[0]).toBeCloseTo(2 - 4.30265273 / Math.sqrt(3), 6);
    expect(s.ci95[1]).toBeCloseTo(2 + 4.30265273 / Math.sqrt(3), 6);
    expect(seedSummary([5])).toEqual({ n: 1, mean: 5, std: 0, ci95: [Number.NaN, Number.NaN] });
    expect(() => seedSummary([])).toThrow(/no values/);
  });

  it('gives the t-interval over group means for runs nested in groups', () => {
    // group means 2 and 11 (unequal group sizes: 1,2,3 and 10,12): mean 6.5, std |11 - 2| / √2, t_{0.975, 1} = 12.7062047
    const s = nestedSeedSummary([1, 10, 2, 12, 3], ['a', 'b', 'a', 'b', 'a']);
    expect(s.n).toBe(2);
    expect(s.mean).toBe(6.5);
    expect(s.std).toBeCloseTo(9 / Math.SQRT2, 12);
    expect(s.ci95[0]).toBeCloseTo(6.5 - 12.7062047 * 4.5, 5);
    expect(s.ci95[1]).toBeCloseTo(6.5 + 12.7062047 * 4.5, 5);
    // one group: no interval, whatever the runs in it
    expect(nestedSeedSummary([1, 2, 3], [0, 0, 0]).ci95).toEqual([Number.NaN, Number.NaN]);
    expect(() => nestedSeedSummary([1, 2], [0])).toThrow(/2 values but 1 groups/);
  });
});

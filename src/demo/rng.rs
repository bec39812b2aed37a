//! A small seedable PRNG (xoshiro256++ seeded by SplitMix64) and the sampling
//! helpers the demo generator needs.
//!
//! Why our own and not `rand`: the committed demo lake must come out byte for
//! byte the same from a seed, today and after any dependency upgrade. Owning
//! the forty lines of generator makes that a property of this file alone.
//!
//! Streams are derived, not shared: every (day, device, purpose) gets its own
//! generator via [`Rng::derive`], so adding a flow kind for one device does not
//! shift the random numbers of every other device and day.

/// SplitMix64 step: advances `state` and returns the next output.
///
/// Used to seed xoshiro and, through [`mix64`], as a stateless hash.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix64(*state)
}

/// The SplitMix64 finaliser: a bijection on `u64` with good avalanche.
///
/// Being a bijection, distinct inputs give distinct outputs, which is what
/// makes the Zeek-style connection ids unique without bookkeeping.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++: fast, 256 bits of state, good statistical quality.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator seeded from one `u64` (expanded with SplitMix64).
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    /// An independent stream for `seed` and a path of labels such as
    /// `[DAY, day, device]`; the same path always gives the same stream.
    pub fn derive(seed: u64, path: &[u64]) -> Self {
        let mut h = mix64(seed ^ 0x5DEE_CE66_D1CE_5EED);
        for &p in path {
            h = mix64(h ^ mix64(p.wrapping_add(0x632B_E59B_D9B4_E019)));
        }
        Rng::new(h)
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = (self.s[0].wrapping_add(self.s[3]))
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `[0, n)`; `n` must be positive.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0)");
        // Lemire's multiply-shift; the tiny bias (< n / 2^64) is irrelevant here.
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform integer in `[lo, hi]` (inclusive).
    #[inline]
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn bool(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Normal(mean, sd) by Box-Muller (one of the pair is discarded: simple, and
    /// keeps the generator stateless beyond its 256 bits).
    #[inline]
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        mean + sd * z
    }

    /// Log-normal with the given parameters of the underlying normal.
    #[inline]
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        self.normal(mu, sigma).exp()
    }

    /// Poisson(lambda): Knuth's product method for small means, a rounded
    /// normal approximation above 30.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return self.normal(lambda, lambda.sqrt()).round().max(0.0) as u64;
        }
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = self.uniform();
        while p > limit {
            k += 1;
            p *= self.uniform();
        }
        k
    }

    /// One element of a non-empty slice, uniformly.
    #[inline]
    pub fn choice<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One element of a small `(item, weight)` table, proportionally to weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, f64)]) -> &'a T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.uniform() * total;
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }

    /// `n` lower-case hex digits appended to `out`.
    pub fn hex_into(&mut self, out: &mut String, n: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bits = 0u64;
        for i in 0..n {
            if i % 16 == 0 {
                bits = self.next_u64();
            }
            out.push(HEX[(bits & 0xF) as usize] as char);
            bits >>= 4;
        }
    }

    /// `n` lower-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        self.hex_into(&mut s, n);
        s
    }

    /// `n` decimal digits, the first one non-zero.
    pub fn digits(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        for i in 0..n {
            let d = if i == 0 { 1 + self.below(9) } else { self.below(10) };
            s.push((b'0' + d as u8) as char);
        }
        s
    }
}

/// A precomputed cumulative distribution over `0..n`, sampled by binary search.
///
/// Used for Zipf popularity of destinations and for the minute-of-day activity
/// profile of a device, where a linear scan per sample would be too slow at
/// ten million rows.
#[derive(Debug, Clone)]
pub struct Cumulative {
    cdf: Vec<f64>,
}

impl Cumulative {
    /// From non-negative weights; at least one must be positive.
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut acc = 0.0;
        let cdf: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                acc += w.max(0.0);
                acc
            })
            .collect();
        assert!(acc > 0.0, "Cumulative::new needs a positive weight");
        Cumulative { cdf }
    }

    /// Zipf weights `1 / (rank + 1)^s` over `n` ranks.
    pub fn zipf(n: usize, s: f64) -> Self {
        Self::new((0..n).map(|k| 1.0 / ((k + 1) as f64).powf(s)))
    }

    /// Sum of all weights.
    pub fn total(&self) -> f64 {
        *self.cdf.last().expect("non-empty")
    }

    /// One outcome, proportionally to its weight.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.uniform() * self.total();
        self.cdf.partition_point(|&c| c <= x).min(self.cdf.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_paths_differ() {
        let a: Vec<u64> = (0..8).map({
            let mut r = Rng::derive(42, &[1, 2]);
            move |_| r.next_u64()
        }).collect();
        let b: Vec<u64> = (0..8).map({
            let mut r = Rng::derive(42, &[1, 2]);
            move |_| r.next_u64()
        }).collect();
        let c = Rng::derive(42, &[2, 1]).next_u64();
        assert_eq!(a, b);
        assert_ne!(a[0], c);
    }

    #[test]
    fn samplers_stay_in_range_and_have_sane_moments() {
        let mut r = Rng::new(7);
        let n = 20_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            sum += r.normal(10.0, 2.0);
            let k = r.int(3, 5);
            assert!((3..=5).contains(&k));
        }
        let mean = sum / n as f64;
        assert!((mean - 10.0).abs() < 0.1, "normal mean {mean}");
        let p: u64 = (0..n).map(|_| r.poisson(2.0)).sum();
        assert!((p as f64 / n as f64 - 2.0).abs() < 0.1);
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let z = Cumulative::zipf(100, 1.1);
        let mut r = Rng::new(1);
        let mut counts = [0u32; 100];
        for _ in 0..50_000 {
            counts[z.sample(&mut r)] += 1;
        }
        assert!(counts[0] > counts[9] && counts[9] > counts[99]);
    }
}

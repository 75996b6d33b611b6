//! Exact per-group sums of BIGINTs, kept in two `i64` words.
//!
//! A sum of `i64`s can leave the `i64` range and come back, so it is kept
//! exact as `high * 2^64 + low`. Adding a row is one `i64` add to `low`; only
//! when that add overflows (which real data almost never does) does `high`
//! move, by one. That is a few instructions less per row than adding to an
//! `i128`, whose add needs the value's sign word and a carry into the high
//! half every time.

use super::accumulator::same_length;

/// Exact sums, one per group id.
///
/// # Invariants
/// `low` and `high` have the same length; group `g`'s sum is
/// `high[g] * 2^64 + low[g]`, with `low[g]` read as signed.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct WideSums {
    low: Vec<i64>,
    high: Vec<i64>,
}

impl WideSums {
    /// Makes room for groups `0..groups`; new groups start at zero.
    pub fn resize(&mut self, groups: usize) {
        self.low.resize(groups, 0);
        self.high.resize(groups, 0);
    }

    /// Group `g`'s sum.
    pub fn get(&self, g: usize) -> i128 {
        (i128::from(self.high[g]) << 64) + i128::from(self.low[g])
    }

    /// Sets group `g`'s sum.
    pub fn set(&mut self, g: usize, sum: i128) {
        let low = sum as i64;
        self.low[g] = low;
        // Exact: `sum - low` is a multiple of 2^64.
        self.high[g] = ((sum - i128::from(low)) >> 64) as i64;
    }

    /// Adds `x` to group `g`.
    #[inline(always)]
    pub fn add(&mut self, g: usize, x: i64) {
        let (low, overflowed) = self.low[g].overflowing_add(x);
        self.low[g] = low;
        if overflowed {
            carry(&mut self.high, g, x);
        }
    }

    /// Adds `x` to group `g` and returns the new sum if it is in the `i64`
    /// range; else changes nothing and returns `None`.
    #[inline(always)]
    pub fn add_in_range(&mut self, g: usize, x: i64) -> Option<i64> {
        // A sum is in range exactly when its high word is zero.
        if self.high[g] == 0 {
            if let Some(sum) = self.low[g].checked_add(x) {
                self.low[g] = sum;
                return Some(sum);
            }
        }
        let sum = self.get(g) + i128::from(x);
        let value = i64::try_from(sum).ok()?;
        self.set(g, sum);
        Some(value)
    }

    /// Adds each `values[i]` to group `groups[i]`, and marks the group in
    /// `seen`. Panics if a group id is out of range of the sums or `seen`.
    pub fn add_all(&mut self, groups: &[u32], values: &[i64], seen: &mut [bool]) {
        // One bounds check on a group covers both stores.
        let (low, seen) = same_length(&mut self.low, seen);
        for (&g, &x) in groups.iter().zip(values) {
            let g = g as usize;
            let (sum, overflowed) = low[g].overflowing_add(x);
            low[g] = sum;
            seen[g] = true;
            if overflowed {
                carry(&mut self.high, g, x);
            }
        }
    }
}

/// `low[g] + x` wrapped: moves `high[g]` by the 2^64 the wrap lost or gained.
#[cold]
#[inline(never)]
fn carry(high: &mut [i64], g: usize, x: i64) {
    high[g] += if x < 0 { -1 } else { 1 };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_stay_exact_past_the_i64_range_and_back() {
        let mut sums = WideSums::default();
        sums.resize(3);
        let mut seen = vec![false; 3];
        let mut exact = [0i128; 3];
        // Runs that cross i64::MAX and i64::MIN both ways, more than once.
        let values: Vec<i64> = [i64::MAX, i64::MAX, i64::MAX, -1, i64::MIN, i64::MIN, 7]
            .into_iter()
            .cycle()
            .take(50)
            .chain([i64::MIN; 9])
            .chain([i64::MAX; 4])
            .collect();
        let groups: Vec<u32> = (0..values.len() as u32).map(|i| i % 2).collect();
        sums.add_all(&groups, &values, &mut seen);
        for (&g, &x) in groups.iter().zip(&values) {
            exact[g as usize] += i128::from(x);
        }
        for &x in &values {
            sums.add(2, x);
            exact[2] += i128::from(x);
        }
        for (g, &sum) in exact.iter().enumerate() {
            assert_eq!(sums.get(g), sum, "group {g}");
        }
        assert_eq!(seen, [true, true, false]);
        // In range: added; out of range: left as it was; back in range from
        // outside it: added.
        sums.set(1, i128::from(i64::MAX) - 1);
        assert_eq!(sums.add_in_range(1, 1), Some(i64::MAX));
        assert_eq!(sums.add_in_range(1, 1), None);
        assert_eq!(sums.get(1), i128::from(i64::MAX));
        sums.set(1, i128::from(i64::MIN) - 5);
        assert_eq!(sums.add_in_range(1, -1), None);
        assert_eq!(sums.add_in_range(1, 7), Some(i64::MIN + 2));
        assert_eq!(sums.get(1), i128::from(i64::MIN) + 2);
        for s in [
            0,
            -1,
            i128::from(i64::MIN) * 5 - 3,
            i128::from(i64::MAX) * 7 + 11,
        ] {
            sums.set(1, s);
            assert_eq!(sums.get(1), s);
        }
    }
}

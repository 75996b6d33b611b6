//! Merging aggregate states: one group into another of the same accumulator
//! (session windows merging), or a partial accumulator's groups into this one
//! (partial aggregates of another thread), one group's [`Part`] at a time.

use super::{Accumulator, Extreme};
use crate::data::Value;

impl Accumulator {
    /// Folds group `src` into group `dst` (session windows merging); `src` is
    /// left as it was.
    pub fn merge(&mut self, dst: usize, src: usize) {
        if let Accumulator::CountDistinct { sets } = self {
            let src_set = std::mem::take(&mut sets[src]);
            sets[dst].extend(src_set.iter().cloned());
            sets[src] = src_set;
            return;
        }
        let from = self.part(src);
        self.fold_part(dst, from);
    }

    /// Folds group `from[i]` of `other` into group `into[i]` of `self`, for
    /// every `i`: partial aggregates of another thread join this one's.
    /// `other` is of the same kind (built for the same call); `self` already
    /// has room for every group in `into`.
    pub fn merge_from(&mut self, other: &Accumulator, from: &[u32], into: &[u32]) {
        debug_assert_eq!(from.len(), into.len());
        for (&s, &d) in from.iter().zip(into) {
            match (&mut *self, other) {
                (Accumulator::CountDistinct { sets }, Accumulator::CountDistinct { sets: src }) => {
                    sets[d as usize].extend(src[s as usize].iter().cloned());
                }
                _ => self.fold_part(d as usize, other.part(s as usize)),
            }
        }
    }

    /// Group `g`'s state, by value (not for `CountDistinct`, whose sets are
    /// merged in place).
    fn part(&self, g: usize) -> Part {
        match self {
            Accumulator::Count { counts, .. } => Part::Count(counts[g]),
            Accumulator::SumInt { sums, seen } => Part::Exact(sums.get(g), seen[g]),
            Accumulator::SumDecimal { sums, seen, .. } => Part::Exact(sums[g], seen[g]),
            Accumulator::SumFloat { sums, seen } => Part::Float(sums[g], seen[g]),
            Accumulator::Avg { sums, counts } => Part::AvgFloat(sums[g], counts[g]),
            Accumulator::AvgDecimal { sums, counts, .. } => Part::AvgExact(sums[g], counts[g]),
            Accumulator::MinMaxFloat { values, seen, .. } => Part::Float(values[g], seen[g]),
            Accumulator::MinMaxInt { values, seen, .. } => Part::Exact(values[g] as i128, seen[g]),
            Accumulator::MinMaxValue { values, .. } => Part::Value(values[g].clone(), 0),
            Accumulator::CountDistinct { .. } => Part::Count(0),
            Accumulator::Spread {
                counts, means, m2, ..
            } => Part::Spread(counts[g], means[g], m2[g]),
            Accumulator::FirstLast { values, order, .. } => {
                Part::Value(values[g].clone(), order[g])
            }
        }
    }

    /// Folds one group's state (from [`part`](Self::part) of the same kind)
    /// into group `dst`.
    fn fold_part(&mut self, dst: usize, from: Part) {
        match (self, from) {
            (Accumulator::Count { counts, .. }, Part::Count(n)) => counts[dst] += n,
            (Accumulator::SumInt { sums, seen }, Part::Exact(s, seen_src)) => {
                sums.set(dst, sums.get(dst) + s);
                seen[dst] |= seen_src;
            }
            (Accumulator::SumDecimal { sums, seen, .. }, Part::Exact(s, seen_src)) => {
                sums[dst] += s;
                seen[dst] |= seen_src;
            }
            (Accumulator::SumFloat { sums, seen }, Part::Float(s, seen_src)) => {
                sums[dst] += s;
                seen[dst] |= seen_src;
            }
            (Accumulator::Avg { sums, counts }, Part::AvgFloat(s, n)) => {
                sums[dst] += s;
                counts[dst] += n;
            }
            (Accumulator::AvgDecimal { sums, counts, .. }, Part::AvgExact(s, n)) => {
                sums[dst] += s;
                counts[dst] += n;
            }
            (Accumulator::MinMaxFloat { values, seen, max }, Part::Float(v, seen_src)) => {
                if seen_src && (!seen[dst] || v.beats(*max, values[dst])) {
                    values[dst] = v;
                    seen[dst] = true;
                }
            }
            (
                Accumulator::MinMaxInt {
                    values, seen, max, ..
                },
                Part::Exact(v, seen_src),
            ) => {
                let v = v as i64;
                if seen_src && (!seen[dst] || better(*max, v, values[dst])) {
                    values[dst] = v;
                    seen[dst] = true;
                }
            }
            (Accumulator::MinMaxValue { values, max, .. }, Part::Value(v, _)) => {
                let take = match values[dst].sql_cmp(&v) {
                    None => values[dst].is_null(),
                    Some(o) => (*max && o.is_lt()) || (!*max && o.is_gt()),
                };
                if take {
                    values[dst] = v;
                }
            }
            (
                Accumulator::Spread {
                    counts, means, m2, ..
                },
                Part::Spread(nb_count, mean_b, m2_b),
            ) => {
                if nb_count == 0 {
                    return;
                }
                let (na, nb) = (counts[dst] as f64, nb_count as f64);
                let n = na + nb;
                let delta = mean_b - means[dst];
                means[dst] += delta * nb / n;
                m2[dst] += m2_b + delta * delta * na * nb / n;
                counts[dst] += nb_count;
            }
            (
                Accumulator::FirstLast {
                    values,
                    order,
                    last,
                },
                Part::Value(v, o),
            ) => {
                let take = !v.is_null()
                    && (values[dst].is_null()
                        || if *last {
                            o >= order[dst]
                        } else {
                            o < order[dst]
                        });
                if take {
                    values[dst] = v;
                    order[dst] = o;
                }
            }
            (acc, from) => unreachable!("merging {from:?} into {acc:?}: kinds differ"),
        }
    }
}

/// One group's state of one aggregate, moved between accumulators of the same
/// kind by [`Accumulator::merge`] and [`Accumulator::merge_from`].
#[derive(Debug)]
enum Part {
    Count(i64),
    /// An exact sum or an integer MIN/MAX, and whether a value was seen.
    Exact(i128, bool),
    /// A floating sum or MIN/MAX, and whether a value was seen.
    Float(f64, bool),
    /// An average's sum and count.
    AvgFloat(f64, i64),
    AvgExact(i128, i64),
    /// Count, mean and sum of squared deviations.
    Spread(i64, f64, f64),
    /// A value and its order key (`FIRST_VALUE`/`LAST_VALUE`; 0 for MIN/MAX).
    Value(Value, i64),
}

/// Whether `v` beats `current` as a MAX (`max`) or a MIN.
fn better<T: PartialOrd>(max: bool, v: T, current: T) -> bool {
    if max {
        v > current
    } else {
        v < current
    }
}

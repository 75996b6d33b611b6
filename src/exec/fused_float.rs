//! Several aggregates of one DOUBLE column, updated in one pass.
//!
//! `MIN(t), AVG(t), MAX(t)` updated one accumulator at a time reads the
//! group ids and the column three times, with three loops' overhead; one
//! pass reads each row once and updates every state. Each state sees the
//! rows in the same order as its own loop would, so the results are
//! identical bit for bit.
//!
//! A pass takes at most one each of MIN, MAX, AVG, SUM and COUNT over a
//! column without NULLs and with no snapshot or order (a `COUNT(*)` counts
//! the same rows, so it may join the pass of any such column); it is
//! compiled for the kinds present ([`pass`]), so an absent kind costs
//! nothing per row.

use super::accumulator::{Accumulator, Extreme};

/// The states one pass updates; a kind that is absent has empty slices.
#[derive(Default)]
struct States<'a> {
    min: (&'a mut [f64], &'a mut [bool]),
    max: (&'a mut [f64], &'a mut [bool]),
    avg: (&'a mut [f64], &'a mut [i64]),
    sum: (&'a mut [f64], &'a mut [bool]),
    count: &'a mut [i64],
}

/// Adds `v[i]` to group `groups[i]` of every accumulator of `accs`, each
/// resized to `n` groups, in one pass, if they are all DOUBLE MIN, MAX, AVG
/// or SUM, or COUNT, at most one of each (`v` has no NULLs, so a COUNT of
/// it and a `COUNT(*)` count every row); returns false, changing nothing,
/// otherwise.
pub fn update_together(accs: &mut [&mut Accumulator], groups: &[u32], v: &[f64], n: usize) -> bool {
    let mut states = States::default();
    // MIN, MAX, AVG, SUM, COUNT.
    let mut present = [false; 5];
    for acc in accs.iter_mut() {
        let kind = match &mut **acc {
            Accumulator::MinMaxFloat { values, seen, max } => {
                let (kind, state) = match max {
                    false => (0, &mut states.min),
                    true => (1, &mut states.max),
                };
                *state = (values, seen);
                kind
            }
            Accumulator::Avg { sums, counts } => {
                states.avg = (sums, counts);
                2
            }
            Accumulator::SumFloat { sums, seen } => {
                states.sum = (sums, seen);
                3
            }
            Accumulator::Count { counts, .. } => {
                states.count = counts;
                4
            }
            _ => return false,
        };
        if std::mem::replace(&mut present[kind], true) {
            return false;
        }
    }
    type Pass = fn(States<'_>, &[u32], &[f64], usize);
    macro_rules! compiled_for {
        ($($min:literal $max:literal $avg:literal $sum:literal),*) => {
            match present {
                $(
                    [$min, $max, $avg, $sum, false] => pass::<$min, $max, $avg, $sum, false> as Pass,
                    [$min, $max, $avg, $sum, true] => pass::<$min, $max, $avg, $sum, true> as Pass,
                )*
            }
        };
    }
    let pass = compiled_for!(
        false false false false, false false false true, false false true false, false false true true,
        false true false false, false true false true, false true true false, false true true true,
        true false false false, true false false true, true false true false, true false true true,
        true true false false, true true false true, true true true false, true true true true
    );
    pass(states, groups, v, n);
    true
}

/// The pass over the rows for the kinds present (`n` groups). MIN and MAX
/// replace a group's value when it has none yet or the row's is strictly
/// better, as the accumulators' own loops do.
#[inline(never)]
fn pass<const MIN: bool, const MAX: bool, const AVG: bool, const SUM: bool, const COUNT: bool>(
    states: States<'_>,
    groups: &[u32],
    v: &[f64],
    n: usize,
) {
    // Every state of the kinds present cut to `n`, so that one check of a
    // group id stands for all of them.
    let States {
        min: (min_values, min_seen),
        max: (max_values, max_seen),
        avg: (avg_sums, avg_counts),
        sum: (sums, sum_seen),
        count,
    } = states;
    let (min_values, min_seen) = (cut(min_values, n, MIN), cut(min_seen, n, MIN));
    let (max_values, max_seen) = (cut(max_values, n, MAX), cut(max_seen, n, MAX));
    let (avg_sums, avg_counts) = (cut(avg_sums, n, AVG), cut(avg_counts, n, AVG));
    let (sums, sum_seen) = (cut(sums, n, SUM), cut(sum_seen, n, SUM));
    let count = cut(count, n, COUNT);
    for (&g, &x) in groups.iter().zip(v) {
        let g = g as usize;
        assert!(g < n, "group {g} of {n}: the caller resized every state");
        if MIN && (!min_seen[g] || x.beats_min(min_values[g])) {
            min_values[g] = x;
            min_seen[g] = true;
        }
        if MAX && (!max_seen[g] || x.beats_max(max_values[g])) {
            max_values[g] = x;
            max_seen[g] = true;
        }
        if AVG {
            avg_sums[g] += x;
            avg_counts[g] += 1;
        }
        if SUM {
            sums[g] += x;
            sum_seen[g] = true;
        }
        if COUNT {
            count[g] += 1;
        }
    }
}

/// `s` cut to `n` items when its kind is `present` (empty otherwise).
#[inline(always)]
fn cut<T>(s: &mut [T], n: usize, present: bool) -> &mut [T] {
    if present {
        &mut s[..n]
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::column::ColumnData;
    use crate::data::{Column, DataType};
    use crate::io::scan::tests::Rng;
    use crate::sql::plan::AggFunc;

    fn new(func: AggFunc) -> Accumulator {
        Accumulator::new(func, Some(DataType::Float64))
    }

    /// Every set of MIN, MAX, AVG, SUM and one COUNT (of the column or of
    /// rows) ends in the states their own loops reach, bit for bit, over
    /// batches that add groups as they go and hold NaN, ties and repeated
    /// groups.
    #[test]
    fn one_pass_matches_each_accumulator_alone() {
        let kinds = [
            AggFunc::Min,
            AggFunc::Max,
            AggFunc::Avg,
            AggFunc::Sum,
            AggFunc::Count,
            AggFunc::CountStar,
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next();
        let batches: Vec<(usize, Vec<u32>, Vec<f64>)> = (1..=12)
            .map(|b| {
                let groups = 5 * b;
                let rows = (next() % 200) as usize;
                let ids: Vec<u32> = (0..rows).map(|_| (next() % groups as u64) as u32).collect();
                // A third of the groups see only 0.0 and -0.0, equal but
                // for their bits: which one a MIN or MAX keeps shows.
                let values = ids
                    .iter()
                    .map(|&g| match (g % 3, next() % 8) {
                        (0, r) => [0.0, -0.0][r as usize % 2],
                        (_, 0) => f64::NAN,
                        (_, 1) => 1.5,
                        _ => (next() % 2000) as f64 / 7.0 - 100.0,
                    })
                    .collect();
                (groups, ids, values)
            })
            .collect();
        for set in 1..64usize {
            if set >> 4 == 0b11 {
                // Two counts: not one pass (see the test below).
                continue;
            }
            let funcs: Vec<AggFunc> = (0..6)
                .filter(|k| set >> k & 1 == 1)
                .map(|k| kinds[k])
                .collect();
            let mut alone: Vec<Accumulator> = funcs.iter().map(|&f| new(f)).collect();
            let mut together: Vec<Accumulator> = funcs.iter().map(|&f| new(f)).collect();
            for (groups, ids, values) in &batches {
                let column = Column {
                    data: ColumnData::Float64(values.clone()),
                    validity: None,
                };
                for acc in &mut alone {
                    acc.resize(*groups);
                    acc.update(ids, Some(&column), None, None);
                }
                let mut accs: Vec<&mut Accumulator> = together.iter_mut().collect();
                for acc in accs.iter_mut() {
                    acc.resize(*groups);
                }
                assert!(
                    update_together(&mut accs, ids, values, *groups),
                    "{funcs:?}"
                );
            }
            let groups = batches.last().map_or(0, |b| b.0);
            for (a, b) in alone.iter().zip(&together) {
                for g in 0..groups {
                    let (a, b) = (format!("{:?}", a.value(g)), format!("{:?}", b.value(g)));
                    assert_eq!(a, b, "{funcs:?}, group {g}");
                }
            }
        }
    }

    #[test]
    fn other_sets_are_left_to_their_own_loops() {
        for funcs in [
            vec![AggFunc::Min, AggFunc::Min],
            vec![AggFunc::Count, AggFunc::CountStar],
            vec![AggFunc::Avg, AggFunc::CountDistinct],
            vec![AggFunc::Sum, AggFunc::FirstValue],
        ] {
            let mut accs: Vec<Accumulator> = funcs.iter().map(|&f| new(f)).collect();
            let mut refs: Vec<&mut Accumulator> = accs.iter_mut().collect();
            for acc in refs.iter_mut() {
                acc.resize(1);
            }
            assert!(!update_together(&mut refs, &[0], &[1.0], 1), "{funcs:?}");
            // Nothing changed: each state is still a fresh one's.
            for (acc, &f) in accs.iter().zip(&funcs) {
                let mut fresh = new(f);
                fresh.resize(1);
                let (got, expected) = (acc.value(0), fresh.value(0));
                assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{funcs:?}");
            }
        }
    }
}

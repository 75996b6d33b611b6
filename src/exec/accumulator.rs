//! Aggregate state, one vector per aggregate indexed by group id.
//!
//! Updates run column-at-a-time: one aggregate over a whole batch in one loop.
//! For `EMIT CHANGES` the same loop also writes the group's value after each
//! row, so row `i` of the snapshot column is exactly the result that row `i`
//! produced, whatever order the aggregates are updated in.

use super::wide_sum::WideSums;
use crate::data::column::ColumnData;
use crate::data::{Column, DataType, Value};
use crate::sql::plan::AggFunc;
use hashbrown::HashSet;

/// The state of one aggregate for every group of a shard.
#[derive(Debug)]
pub enum Accumulator {
    Count {
        counts: Vec<i64>,
        star: bool,
    },
    SumInt {
        sums: WideSums,
        seen: Vec<bool>,
    },
    SumFloat {
        sums: Vec<f64>,
        seen: Vec<bool>,
    },
    SumDecimal {
        sums: Vec<i128>,
        seen: Vec<bool>,
        scale: u8,
    },
    Avg {
        sums: Vec<f64>,
        counts: Vec<i64>,
    },
    AvgDecimal {
        sums: Vec<i128>,
        counts: Vec<i64>,
        scale: u8,
    },
    /// MIN or MAX of DOUBLEs. NaN is greater than every number, as in
    /// PostgreSQL: MAX is NaN when any value is, MIN only when all are
    /// (see [`Extreme`]).
    MinMaxFloat {
        values: Vec<f64>,
        seen: Vec<bool>,
        max: bool,
    },
    MinMaxInt {
        values: Vec<i64>,
        seen: Vec<bool>,
        max: bool,
        data_type: DataType,
    },
    MinMaxValue {
        values: Vec<Value>,
        max: bool,
        data_type: DataType,
    },
    /// `COUNT(DISTINCT x)`: the set of distinct non-null values per group.
    CountDistinct {
        sets: Vec<HashSet<DistinctKey>>,
    },
    /// Variance and standard deviation: Welford's running mean and sum of
    /// squared deviations, merged with Chan et al.'s pairwise formula
    /// (<https://en.wikipedia.org/wiki/Algorithms_for_calculating_variance>).
    Spread {
        counts: Vec<i64>,
        means: Vec<f64>,
        m2: Vec<f64>,
        kind: SpreadKind,
    },
    /// `FIRST_VALUE` / `LAST_VALUE`: the non-null value with the smallest
    /// (largest) order key; ties and unordered input go by arrival.
    FirstLast {
        values: Vec<Value>,
        order: Vec<i64>,
        last: bool,
    },
}

/// Which statistic of spread a [`Accumulator::Spread`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpreadKind {
    /// Divide by `n - 1` (sample) rather than `n` (population).
    pub sample: bool,
    /// Report the standard deviation rather than the variance.
    pub sqrt: bool,
}

/// A value as a set member for `COUNT(DISTINCT ...)`: integers, decimals and
/// timestamps by value, floats by their bits (with -0.0 as 0.0), strings by
/// their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DistinctKey {
    Int(i128),
    Float(u64),
    Bool(bool),
    Str(Box<str>),
}

impl DistinctKey {
    fn of(c: &Column, i: usize) -> DistinctKey {
        match &c.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => DistinctKey::Int(v[i] as i128),
            ColumnData::Float64(v) => DistinctKey::Float(normalised_bits(v[i])),
            ColumnData::Decimal { values, .. } => DistinctKey::Int(values[i]),
            _ => match c.value(i) {
                Value::Bool(b) => DistinctKey::Bool(b),
                other => DistinctKey::Str(other.to_string().into_boxed_str()),
            },
        }
    }
}

fn normalised_bits(x: f64) -> u64 {
    if x == 0.0 {
        0f64.to_bits()
    } else if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

/// The result type of `func` over an argument of type `arg`.
pub fn output_type(func: AggFunc, arg: Option<DataType>) -> DataType {
    match (func, arg) {
        (AggFunc::CountStar | AggFunc::Count, _) => DataType::Int64,
        (AggFunc::Avg, _) => DataType::Float64,
        (AggFunc::Sum, Some(DataType::Decimal { scale, .. })) => DataType::Decimal {
            precision: 38,
            scale,
        },
        (AggFunc::Sum, Some(DataType::Int64)) => DataType::Int64,
        (AggFunc::Sum, _) => DataType::Float64,
        (AggFunc::CountDistinct, _) => DataType::Int64,
        (AggFunc::Spread(_), _) => DataType::Float64,
        (AggFunc::Min | AggFunc::Max | AggFunc::FirstValue | AggFunc::LastValue, Some(t)) => t,
        (AggFunc::Min | AggFunc::Max | AggFunc::FirstValue | AggFunc::LastValue, None) => {
            DataType::Int64
        }
    }
}

impl Accumulator {
    /// Empty state for `func` over an argument of type `arg` (`None` for `COUNT(*)`).
    pub fn new(func: AggFunc, arg: Option<DataType>) -> Accumulator {
        let max = func == AggFunc::Max;
        match (func, arg) {
            (AggFunc::CountStar, _) => Accumulator::Count {
                counts: Vec::new(),
                star: true,
            },
            (AggFunc::Count, _) => Accumulator::Count {
                counts: Vec::new(),
                star: false,
            },
            (AggFunc::CountDistinct, _) => Accumulator::CountDistinct { sets: Vec::new() },
            (AggFunc::Spread(kind), _) => Accumulator::Spread {
                counts: Vec::new(),
                means: Vec::new(),
                m2: Vec::new(),
                kind,
            },
            (AggFunc::FirstValue | AggFunc::LastValue, _) => Accumulator::FirstLast {
                values: Vec::new(),
                order: Vec::new(),
                last: func == AggFunc::LastValue,
            },
            (AggFunc::Sum, Some(DataType::Int64)) => Accumulator::SumInt {
                sums: WideSums::default(),
                seen: Vec::new(),
            },
            (AggFunc::Sum, Some(DataType::Decimal { scale, .. })) => Accumulator::SumDecimal {
                sums: Vec::new(),
                seen: Vec::new(),
                scale,
            },
            (AggFunc::Sum, _) => Accumulator::SumFloat {
                sums: Vec::new(),
                seen: Vec::new(),
            },
            (AggFunc::Avg, Some(DataType::Decimal { scale, .. })) => Accumulator::AvgDecimal {
                sums: Vec::new(),
                counts: Vec::new(),
                scale,
            },
            (AggFunc::Avg, _) => Accumulator::Avg {
                sums: Vec::new(),
                counts: Vec::new(),
            },
            (_, Some(DataType::Float64)) => Accumulator::MinMaxFloat {
                values: Vec::new(),
                seen: Vec::new(),
                max,
            },
            (_, Some(t @ (DataType::Int64 | DataType::Timestamp))) => Accumulator::MinMaxInt {
                values: Vec::new(),
                seen: Vec::new(),
                max,
                data_type: t,
            },
            (_, t) => Accumulator::MinMaxValue {
                values: Vec::new(),
                max,
                data_type: t.unwrap_or(DataType::Int64),
            },
        }
    }

    /// Makes room for groups `0..groups`.
    pub fn resize(&mut self, groups: usize) {
        match self {
            Accumulator::Count { counts, .. } => counts.resize(groups, 0),
            Accumulator::SumInt { sums, seen } => {
                sums.resize(groups);
                seen.resize(groups, false);
            }
            Accumulator::SumDecimal { sums, seen, .. } => {
                sums.resize(groups, 0);
                seen.resize(groups, false);
            }
            Accumulator::SumFloat { sums, seen } => {
                sums.resize(groups, 0.0);
                seen.resize(groups, false);
            }
            Accumulator::Avg { sums, counts } => {
                sums.resize(groups, 0.0);
                counts.resize(groups, 0);
            }
            Accumulator::AvgDecimal { sums, counts, .. } => {
                sums.resize(groups, 0);
                counts.resize(groups, 0);
            }
            Accumulator::MinMaxFloat { values, seen, .. } => {
                values.resize(groups, 0.0);
                seen.resize(groups, false);
            }
            Accumulator::MinMaxInt { values, seen, .. } => {
                values.resize(groups, 0);
                seen.resize(groups, false);
            }
            Accumulator::MinMaxValue { values, .. } => values.resize(groups, Value::Null),
            Accumulator::CountDistinct { sets } => sets.resize_with(groups, HashSet::new),
            Accumulator::Spread {
                counts, means, m2, ..
            } => {
                counts.resize(groups, 0);
                means.resize(groups, 0.0);
                m2.resize(groups, 0.0);
            }
            Accumulator::FirstLast { values, order, .. } => {
                values.resize(groups, Value::Null);
                order.resize(groups, 0);
            }
        }
    }

    /// Returns group `g` to the empty state, so its slot can be reused.
    pub fn reset(&mut self, g: usize) {
        match self {
            Accumulator::Count { counts, .. } => counts[g] = 0,
            Accumulator::SumInt { sums, seen } => {
                sums.set(g, 0);
                seen[g] = false;
            }
            Accumulator::SumDecimal { sums, seen, .. } => {
                sums[g] = 0;
                seen[g] = false;
            }
            Accumulator::SumFloat { sums, seen } => {
                sums[g] = 0.0;
                seen[g] = false;
            }
            Accumulator::Avg { sums, counts } => {
                sums[g] = 0.0;
                counts[g] = 0;
            }
            Accumulator::AvgDecimal { sums, counts, .. } => {
                sums[g] = 0;
                counts[g] = 0;
            }
            Accumulator::MinMaxFloat { seen, .. } | Accumulator::MinMaxInt { seen, .. } => {
                seen[g] = false
            }
            Accumulator::MinMaxValue { values, .. } => values[g] = Value::Null,
            Accumulator::CountDistinct { sets } => sets[g] = HashSet::new(),
            Accumulator::Spread {
                counts, means, m2, ..
            } => {
                counts[g] = 0;
                means[g] = 0.0;
                m2[g] = 0.0;
            }
            Accumulator::FirstLast { values, .. } => values[g] = Value::Null,
        }
    }

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

    /// Adds row `i` of `arg` to group `groups[i]` for every row. With `snapshot`,
    /// also appends each row's group value after its update. NULL arguments are
    /// ignored, except by `COUNT(*)`, which has no argument. `order` (event
    /// times) orders `FIRST_VALUE` / `LAST_VALUE`; without it rows count in
    /// arrival order.
    pub fn update(
        &mut self,
        groups: &[u32],
        arg: Option<&Column>,
        order: Option<&Column>,
        mut snapshot: Option<&mut Column>,
    ) {
        // Snapshot fast paths: the simple kinds without NULLs, one tight loop
        // that updates and appends; the loops below take any rows left.
        let start = match snapshot.as_deref_mut() {
            Some(s) => self.update_snapshot_dense(groups, arg, s),
            None => 0,
        };
        if start == groups.len() {
            return;
        }
        let valid = |i: usize| arg.is_none_or(|c| c.is_valid(i));
        // Fast paths: no snapshot and no NULLs, one tight loop per aggregate.
        let dense = snapshot.is_none() && arg.is_some_and(|c| c.validity.is_none());
        match (&mut *self, arg.map(|c| &c.data)) {
            (Accumulator::Count { counts, star }, _) => {
                debug_assert_eq!(start, 0, "counts never stop early");
                let star = *star;
                if snapshot.is_none() && (star || arg.is_some_and(|c| c.validity.is_none())) {
                    let counts = &mut counts[..];
                    for &g in groups {
                        counts[g as usize] += 1;
                    }
                    return;
                }
                for (i, &g) in groups.iter().enumerate() {
                    if star || valid(i) {
                        counts[g as usize] += 1;
                    }
                    if let Some(s) = snapshot.as_deref_mut() {
                        push_count(s, counts[g as usize]);
                    }
                }
                return;
            }
            // The state vectors are taken as slices first, so their pointers
            // and lengths stay in registers across the loop's stores.
            (Accumulator::SumFloat { sums, seen }, Some(ColumnData::Float64(v))) if dense => {
                let (sums, seen) = same_length(sums, seen);
                for (&g, &x) in groups.iter().zip(v) {
                    sums[g as usize] += x;
                    seen[g as usize] = true;
                }
                return;
            }
            (Accumulator::SumInt { sums, seen }, Some(ColumnData::Int64(v))) if dense => {
                sums.add_all(groups, v, seen);
                return;
            }
            (Accumulator::Avg { sums, counts }, Some(ColumnData::Float64(v))) if dense => {
                let (sums, counts) = same_length(sums, counts);
                for (&g, &x) in groups.iter().zip(v) {
                    sums[g as usize] += x;
                    counts[g as usize] += 1;
                }
                return;
            }
            (Accumulator::MinMaxFloat { values, seen, max }, Some(ColumnData::Float64(v)))
                if dense =>
            {
                min_max_dense(&mut values[..], &mut seen[..], *max, groups, v);
                return;
            }
            (
                Accumulator::MinMaxInt {
                    values, seen, max, ..
                },
                Some(ColumnData::Int64(v) | ColumnData::Timestamp(v)),
            ) if dense => {
                min_max_dense(&mut values[..], &mut seen[..], *max, groups, v);
                return;
            }
            _ => {}
        }
        let Some(arg) = arg else { return };
        if let Accumulator::FirstLast {
            values,
            order: keys,
            last,
        } = self
        {
            for (i, &g) in groups.iter().enumerate() {
                let g = g as usize;
                if arg.is_valid(i) {
                    let key = order.map_or(0, |o| o.value(i).as_i64().unwrap_or(0));
                    let take =
                        values[g].is_null() || if *last { key >= keys[g] } else { key < keys[g] };
                    if take {
                        values[g] = arg.value(i);
                        keys[g] = key;
                    }
                }
                if let Some(s) = snapshot.as_deref_mut() {
                    if !s.push_value(&values[g]) {
                        s.push_null();
                    }
                }
            }
            return;
        }
        for (i, &g) in groups.iter().enumerate().skip(start) {
            if arg.is_valid(i) {
                self.update_one(g as usize, arg, i);
            }
            if let Some(s) = snapshot.as_deref_mut() {
                self.push_result(g as usize, s);
            }
        }
    }

    /// [`update`](Self::update) with a snapshot for `COUNT`, `AVG` and `SUM`
    /// over BIGINT or DOUBLE when neither `arg` nor `out` has NULLs: each row
    /// updates its group and appends exactly what
    /// [`push_result`](Self::push_result) would. Returns how many leading
    /// rows it did: all, or 0 when it does not apply, or the row before which
    /// an integer sum would leave BIGINT (that row and the rest are left to
    /// the general loop, which appends NULL for it).
    fn update_snapshot_dense(
        &mut self,
        groups: &[u32],
        arg: Option<&Column>,
        out: &mut Column,
    ) -> usize {
        if out.validity.is_some() || arg.is_some_and(|c| c.validity.is_some()) {
            return 0;
        }
        // The state vectors are taken as slices first, so their pointers and
        // lengths stay in registers across the loop's stores.
        match (self, arg.map(|c| &c.data), &mut out.data) {
            (Accumulator::Count { counts, .. }, _, ColumnData::Int64(o)) => {
                let counts = &mut counts[..];
                o.reserve(groups.len());
                for &g in groups {
                    let c = &mut counts[g as usize];
                    *c += 1;
                    o.push(*c);
                }
                groups.len()
            }
            (
                Accumulator::Avg { sums, counts },
                Some(ColumnData::Float64(v)),
                ColumnData::Float64(o),
            ) => {
                let (sums, counts) = (&mut sums[..], &mut counts[..]);
                o.reserve(groups.len());
                for (&g, &x) in groups.iter().zip(v) {
                    let g = g as usize;
                    sums[g] += x;
                    counts[g] += 1;
                    o.push(sums[g] / counts[g] as f64);
                }
                groups.len()
            }
            (
                Accumulator::SumFloat { sums, seen },
                Some(ColumnData::Float64(v)),
                ColumnData::Float64(o),
            ) => {
                let (sums, seen) = (&mut sums[..], &mut seen[..]);
                o.reserve(groups.len());
                for (&g, &x) in groups.iter().zip(v) {
                    let g = g as usize;
                    sums[g] += x;
                    seen[g] = true;
                    o.push(sums[g]);
                }
                groups.len()
            }
            (
                Accumulator::SumInt { sums, seen },
                Some(ColumnData::Int64(v)),
                ColumnData::Int64(o),
            ) => {
                o.reserve(groups.len());
                for (i, (&g, &x)) in groups.iter().zip(v).enumerate() {
                    let g = g as usize;
                    let Some(value) = sums.add_in_range(g, x) else {
                        return i;
                    };
                    seen[g] = true;
                    o.push(value);
                }
                groups.len()
            }
            _ => 0,
        }
    }

    /// Adds the non-null value at row `i` of `arg` to group `g`.
    #[inline]
    fn update_one(&mut self, g: usize, arg: &Column, i: usize) {
        match (self, &arg.data) {
            (Accumulator::SumInt { sums, seen }, ColumnData::Int64(v)) => {
                sums.add(g, v[i]);
                seen[g] = true;
            }
            (Accumulator::SumDecimal { sums, seen, .. }, ColumnData::Decimal { values, .. }) => {
                sums[g] += values[i];
                seen[g] = true;
            }
            (Accumulator::SumFloat { sums, seen }, _) => {
                sums[g] += as_f64(arg, i);
                seen[g] = true;
            }
            (Accumulator::AvgDecimal { sums, counts, .. }, ColumnData::Decimal { values, .. }) => {
                sums[g] += values[i];
                counts[g] += 1;
            }
            (Accumulator::Avg { sums, counts }, _) => {
                sums[g] += as_f64(arg, i);
                counts[g] += 1;
            }
            (Accumulator::MinMaxFloat { values, seen, max }, ColumnData::Float64(v)) => {
                let x = v[i];
                if !seen[g] || x.beats(*max, values[g]) {
                    values[g] = x;
                    seen[g] = true;
                }
            }
            (
                Accumulator::MinMaxInt {
                    values, seen, max, ..
                },
                ColumnData::Int64(v) | ColumnData::Timestamp(v),
            ) => {
                let x = v[i];
                if !seen[g] || (*max && x > values[g]) || (!*max && x < values[g]) {
                    values[g] = x;
                    seen[g] = true;
                }
            }
            (Accumulator::MinMaxValue { values, max, .. }, _) => {
                let x = arg.value(i);
                let better = match values[g].sql_cmp(&x) {
                    None => values[g].is_null(),
                    Some(o) => (*max && o.is_lt()) || (!*max && o.is_gt()),
                };
                if better {
                    values[g] = x;
                }
            }
            (Accumulator::CountDistinct { sets }, _) => {
                sets[g].insert(DistinctKey::of(arg, i));
            }
            (
                Accumulator::Spread {
                    counts, means, m2, ..
                },
                _,
            ) => {
                let x = as_f64(arg, i);
                counts[g] += 1;
                let delta = x - means[g];
                means[g] += delta / counts[g] as f64;
                m2[g] += delta * (x - means[g]);
            }
            (acc, data) => {
                unreachable!("accumulator {acc:?} over {data:?}: the planner checks types")
            }
        }
    }

    /// The result of group `g` now.
    pub fn value(&self, g: usize) -> Value {
        match self {
            Accumulator::Count { counts, .. } => Value::Int64(counts[g]),
            Accumulator::SumInt { sums, seen } => match i64::try_from(sums.get(g)) {
                Ok(v) if seen[g] => Value::Int64(v),
                _ => Value::Null,
            },
            Accumulator::SumFloat { sums, seen } => {
                if seen[g] {
                    Value::Float64(sums[g])
                } else {
                    Value::Null
                }
            }
            Accumulator::SumDecimal { sums, seen, scale } => {
                if seen[g] {
                    Value::Decimal {
                        value: sums[g],
                        scale: *scale,
                    }
                } else {
                    Value::Null
                }
            }
            Accumulator::Avg { sums, counts } => {
                if counts[g] > 0 {
                    Value::Float64(sums[g] / counts[g] as f64)
                } else {
                    Value::Null
                }
            }
            Accumulator::AvgDecimal {
                sums,
                counts,
                scale,
            } => {
                if counts[g] > 0 {
                    Value::Float64(sums[g] as f64 / counts[g] as f64 / 10f64.powi(*scale as i32))
                } else {
                    Value::Null
                }
            }
            Accumulator::MinMaxFloat { values, seen, .. } => {
                if seen[g] {
                    Value::Float64(values[g])
                } else {
                    Value::Null
                }
            }
            Accumulator::MinMaxInt {
                values,
                seen,
                data_type,
                ..
            } => match (seen[g], data_type) {
                (false, _) => Value::Null,
                (true, DataType::Timestamp) => Value::Timestamp(values[g]),
                (true, _) => Value::Int64(values[g]),
            },
            Accumulator::MinMaxValue { values, .. } => values[g].clone(),
            Accumulator::CountDistinct { sets } => Value::Int64(sets[g].len() as i64),
            Accumulator::Spread {
                counts, m2, kind, ..
            } => {
                let n = counts[g];
                let divisor = if kind.sample { n - 1 } else { n };
                if divisor <= 0 {
                    return Value::Null;
                }
                // Rounding can leave a tiny negative `m2`: 0 then. A NaN
                // (a NaN or an infinity among the values) stays NaN, where
                // `f64::max` would make it 0.
                let variance = m2[g] / divisor as f64;
                let variance = if variance < 0.0 { 0.0 } else { variance };
                Value::Float64(if kind.sqrt { variance.sqrt() } else { variance })
            }
            Accumulator::FirstLast { values, .. } => values[g].clone(),
        }
    }

    /// Appends group `g`'s result to `out`.
    #[inline]
    pub fn push_result(&self, g: usize, out: &mut Column) {
        match (self, &mut out.data) {
            (Accumulator::Avg { sums, counts }, ColumnData::Float64(v))
                if counts[g] > 0 && out.validity.is_none() =>
            {
                v.push(sums[g] / counts[g] as f64)
            }
            (Accumulator::SumFloat { sums, seen }, ColumnData::Float64(v))
                if seen[g] && out.validity.is_none() =>
            {
                v.push(sums[g])
            }
            (Accumulator::Count { counts, .. }, ColumnData::Int64(v)) if out.validity.is_none() => {
                v.push(counts[g])
            }
            (Accumulator::SumInt { sums, seen }, ColumnData::Int64(v))
                if seen[g] && out.validity.is_none() && i64::try_from(sums.get(g)).is_ok() =>
            {
                v.push(sums.get(g) as i64)
            }
            _ => {
                // A value the output type cannot hold (a DECIMAL sum past
                // its precision) is NULL, as any overflow.
                if !out.push_value(&self.value(g)) {
                    out.push_null();
                }
            }
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

/// A value MIN and MAX compare: NaN is greater than every number and equal
/// to itself, as in PostgreSQL. For integers the NaN tests are constant
/// false and compile away; for DOUBLEs they add one compare to the loop.
pub(super) trait Extreme: Copy + PartialOrd {
    fn is_nan(self) -> bool;

    /// Whether `self` replaces `current` as the MAX (`max`) or the MIN: a
    /// NaN replaces any number as the MAX; any value replaces a NaN as the
    /// MIN.
    #[inline(always)]
    fn beats(self, max: bool, current: Self) -> bool {
        if max {
            self.beats_max(current)
        } else {
            self.beats_min(current)
        }
    }

    #[inline(always)]
    fn beats_max(self, current: Self) -> bool {
        self > current || (self.is_nan() && !current.is_nan())
    }

    #[inline(always)]
    fn beats_min(self, current: Self) -> bool {
        self < current || (current.is_nan() && !self.is_nan())
    }
}

impl Extreme for f64 {
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

impl Extreme for i64 {
    #[inline(always)]
    fn is_nan(self) -> bool {
        false
    }
}

/// Two per-group state vectors as slices cut to one length (they always
/// have it), so that a loop's one bounds check on a group covers both.
#[inline(always)]
pub(super) fn same_length<'a, A, B>(a: &'a mut [A], b: &'a mut [B]) -> (&'a mut [A], &'a mut [B]) {
    let n = a.len().min(b.len());
    (&mut a[..n], &mut b[..n])
}

/// Appends a count to a snapshot column (BIGINT, no NULLs unless the column
/// already has some).
#[inline]
fn push_count(out: &mut Column, count: i64) {
    match (&mut out.data, &out.validity) {
        (ColumnData::Int64(v), None) => v.push(count),
        _ => {
            out.push_value(&Value::Int64(count));
        }
    }
}

#[inline]
fn as_f64(c: &Column, i: usize) -> f64 {
    match &c.data {
        ColumnData::Float64(v) => v[i],
        ColumnData::Int64(v) => v[i] as f64,
        ColumnData::Decimal { values, scale, .. } => values[i] as f64 / 10f64.powi(*scale as i32),
        _ => c.value(i).as_f64().unwrap_or(0.0),
    }
}

/// The MIN (`max` false) or MAX update of `groups[i]` by `v[i]` for a column
/// without NULLs, exactly as the row-by-row update: a value replaces the
/// group's when the group has none yet or when it is strictly better. One
/// loop per direction, so the direction is not tested per row.
fn min_max_dense<T: Extreme>(
    values: &mut [T],
    seen: &mut [bool],
    max: bool,
    groups: &[u32],
    v: &[T],
) {
    let (values, seen) = same_length(values, seen);
    #[inline(always)]
    fn update<T: Copy>(
        values: &mut [T],
        seen: &mut [bool],
        groups: &[u32],
        v: &[T],
        better: impl Fn(T, T) -> bool,
    ) {
        for (&g, &x) in groups.iter().zip(v) {
            let g = g as usize;
            if !seen[g] || better(x, values[g]) {
                values[g] = x;
                seen[g] = true;
            }
        }
    }
    if max {
        update(values, seen, groups, v, T::beats_max);
    } else {
        update(values, seen, groups, v, T::beats_min);
    }
}

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

mod merge;
mod update;

/// The state of one aggregate for every group of a shard.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpreadKind {
    /// Divide by `n - 1` (sample) rather than `n` (population).
    pub sample: bool,
    /// Report the standard deviation rather than the variance.
    pub sqrt: bool,
}

/// A value as a set member for `COUNT(DISTINCT ...)`: integers, decimals and
/// timestamps by value, floats by their bits (with -0.0 as 0.0), strings by
/// their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

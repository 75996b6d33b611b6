//! Aggregate updates, column at a time: [`Accumulator::update`] with its fast
//! paths (no NULLs; snapshot appends for `EMIT CHANGES`) and the row-by-row
//! general loop.

use super::{same_length, Accumulator, DistinctKey, Extreme};
use crate::data::column::ColumnData;
use crate::data::{Column, Value};

impl Accumulator {
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

//! `CASE WHEN cond THEN x END` over whole columns: `x` where `cond` is TRUE,
//! NULL where it is FALSE or NULL. An aggregate's `FILTER (WHERE cond)` is
//! bound to this shape (see `sql::agg_filter`), so a filtered aggregate reads
//! its argument in one pass over the batch instead of row by row.

use crate::data::column::{ColumnData, Utf8Column};
use crate::data::Column;

/// `then` with every row where `cond` is not TRUE made NULL (its data slot
/// set to the type's default, as [`Column::push_null`] leaves it). `None`
/// when `cond` is not a BOOLEAN column of the same length (the caller then
/// evaluates row by row).
pub fn when_true(cond: &Column, then: Column) -> Option<Column> {
    let ColumnData::Bool(c) = &cond.data else {
        return None;
    };
    if c.len() != then.len() {
        return None;
    }
    let keep = |i: usize| c[i] && cond.is_valid(i) && then.is_valid(i);
    if (0..c.len()).all(keep) {
        return Some(then);
    }
    let validity: Vec<bool> = (0..c.len()).map(keep).collect();
    let data = match then.data {
        ColumnData::Int64(v) => ColumnData::Int64(zeroed(v, &validity, 0)),
        ColumnData::Timestamp(v) => ColumnData::Timestamp(zeroed(v, &validity, 0)),
        ColumnData::Float64(v) => ColumnData::Float64(zeroed(v, &validity, 0.0)),
        ColumnData::Bool(v) => ColumnData::Bool(zeroed(v, &validity, false)),
        ColumnData::Decimal {
            values,
            precision,
            scale,
        } => ColumnData::Decimal {
            values: zeroed(values, &validity, 0),
            precision,
            scale,
        },
        ColumnData::Utf8(v) => {
            let mut out = Utf8Column::with_capacity(v.len(), v.bytes().len());
            for (i, &valid) in validity.iter().enumerate() {
                out.push(if valid { v.get(i) } else { "" });
            }
            ColumnData::Utf8(out)
        }
    };
    Some(Column {
        data,
        validity: Some(validity),
    })
}

/// `v` with the slots of invalid rows set to `default`.
fn zeroed<T: Copy>(mut v: Vec<T>, validity: &[bool], default: T) -> Vec<T> {
    for (x, &valid) in v.iter_mut().zip(validity) {
        if !valid {
            *x = default;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataType, Value};

    fn column(t: DataType, values: &[Value]) -> Column {
        let mut c = Column::new(t);
        for v in values {
            assert!(c.push_value(v));
        }
        c
    }

    fn bools(values: &[Option<bool>]) -> Column {
        let values: Vec<Value> = values
            .iter()
            .map(|b| b.map_or(Value::Null, Value::Bool))
            .collect();
        column(DataType::Bool, &values)
    }

    #[test]
    fn rows_whose_condition_is_not_true_become_null_with_default_slots() {
        let cond = bools(&[Some(true), Some(false), None, Some(true)]);
        let ints = column(
            DataType::Int64,
            &[
                Value::Int64(1),
                Value::Int64(2),
                Value::Int64(3),
                Value::Null,
            ],
        );
        let out = when_true(&cond, ints).unwrap();
        let same_as_pushed = column(
            DataType::Int64,
            &[Value::Int64(1), Value::Null, Value::Null, Value::Null],
        );
        assert_eq!(out, same_as_pushed);

        let strings = column(
            DataType::Utf8,
            &[
                Value::Utf8("a".into()),
                Value::Utf8("b".into()),
                Value::Utf8("c".into()),
                Value::Utf8("d".into()),
            ],
        );
        let out = when_true(&cond, strings).unwrap();
        let same_as_pushed = column(
            DataType::Utf8,
            &[
                Value::Utf8("a".into()),
                Value::Null,
                Value::Null,
                Value::Utf8("d".into()),
            ],
        );
        assert_eq!(out, same_as_pushed);
    }

    #[test]
    fn an_all_true_condition_keeps_the_column() {
        let cond = bools(&[Some(true), Some(true)]);
        let floats = column(
            DataType::Float64,
            &[Value::Float64(1.5), Value::Float64(-0.5)],
        );
        let out = when_true(&cond, floats.clone()).unwrap();
        assert_eq!(out, floats);
        assert!(out.validity.is_none());
    }

    #[test]
    fn a_condition_that_is_not_boolean_is_left_to_the_row_path() {
        let not_bool = column(DataType::Int64, &[Value::Int64(1)]);
        let one = column(DataType::Int64, &[Value::Int64(1)]);
        assert!(when_true(&not_bool, one.clone()).is_none());
        assert!(when_true(&bools(&[Some(true), None]), one).is_none());
    }
}

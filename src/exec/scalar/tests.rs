use super::*;
use crate::exec::like::LikePattern;

fn s(v: &str) -> Value {
    Value::Utf8(v.to_owned())
}

fn dec(value: i128, scale: u8) -> Value {
    Value::Decimal { value, scale }
}

fn dec_type(scale: u8) -> DataType {
    DataType::Decimal {
        precision: 38,
        scale,
    }
}

/// 2024-02-29T13:45:30.250Z, a Thursday, day 60 of a leap year.
const LEAP: i64 = 1_709_214_330_250;

#[test]
fn tumble_start_rounds_down_to_a_multiple_of_the_size() {
    for (ms, size, start) in [
        (0, 1000, Some(0)),
        (999, 1000, Some(0)),
        (1000, 1000, Some(1000)),
        (-1, 1000, Some(-1000)),
        (-1000, 1000, Some(-1000)),
        (-1001, 1000, Some(-2000)),
        (LEAP, 60_000, Some(1_709_214_300_000)),
        (i64::MAX, 1000, Some(i64::MAX - 807)),
        (i64::MIN, 1000, None),
        (i64::MIN + 807, 1000, None),
        (i64::MIN + 808, 1000, Some(i64::MIN + 808)),
        (i64::MIN + 1000, 1000, Some(i64::MIN + 808)),
    ] {
        assert_eq!(tumble_start(ms, size), start, "{ms} / {size}");
    }
    // The column path gives the row path's values, and leaves what does
    // not fit to it.
    let times = Column::from_data(ColumnData::Timestamp(vec![-1001, 0, 1999, LEAP]));
    let starts = tumble_start_column(&times, 1000).expect("fits");
    for i in 0..times.len() {
        let Value::Timestamp(t) = times.value(i) else {
            panic!()
        };
        assert_eq!(
            starts.value(i),
            Value::Timestamp(tumble_start(t, 1000).unwrap())
        );
    }
    let low = Column::from_data(ColumnData::Int64(vec![0, i64::MIN]));
    assert!(tumble_start_column(&low, 1000).is_none());
}

#[test]
fn substring_follows_sql() {
    assert_eq!(substring("hello", 2, Some(3)), s("ell"));
    assert_eq!(substring("hello", 2, None), s("ello"));
    assert_eq!(substring("hello", 1, Some(100)), s("hello"));
    assert_eq!(substring("hello", 0, Some(2)), s("h"));
    assert_eq!(substring("hello", -5, Some(3)), s(""));
    assert_eq!(substring("hello", -1, None), s("hello"));
    assert_eq!(substring("hello", 6, None), s(""));
    assert_eq!(substring("hello", 3, Some(0)), s(""));
    assert_eq!(substring("hello", 3, Some(-1)), Value::Null);
    assert_eq!(substring("héllo", 2, Some(2)), s("él"));
    assert_eq!(substring("abc", i64::MAX, Some(i64::MAX)), s(""));
    assert_eq!(substring("abc", i64::MIN, Some(i64::MAX)), s(""));
}

#[test]
fn strings() {
    let t = DataType::Utf8;
    assert_eq!(strict(ScalarFunc::Upper, &[s("straße")], t), s("STRASSE"));
    assert_eq!(strict(ScalarFunc::Lower, &[s("ÀB")], t), s("àb"));
    assert_eq!(
        strict(ScalarFunc::CharLength, &[s("héllo")], DataType::Int64),
        Value::Int64(5)
    );
    let both = ScalarFunc::Trim(TrimSide::Both);
    assert_eq!(strict(both, &[s("  a b  ")], t), s("a b"));
    assert_eq!(strict(both, &[s("xyaxy"), s("yx")], t), s("a"));
    let lead = ScalarFunc::Trim(TrimSide::Leading);
    assert_eq!(strict(lead, &[s("  a  ")], t), s("a  "));
    let trail = ScalarFunc::Trim(TrimSide::Trailing);
    assert_eq!(strict(trail, &[s("  a  ")], t), s("  a"));
    assert_eq!(
        strict(ScalarFunc::ConcatOp, &[s("a"), Value::Int64(1)], t),
        s("a1")
    );
}

#[test]
fn round_is_half_away_from_zero() {
    let f = |x: f64, d: i32| round(&Value::Float64(x), d, DataType::Float64);
    assert_eq!(f(2.5, 0), Value::Float64(3.0));
    assert_eq!(f(-2.5, 0), Value::Float64(-3.0));
    assert_eq!(f(1.25, 1), Value::Float64(1.3));
    assert_eq!(f(1234.5, -2), Value::Float64(1200.0));
    assert_eq!(f(1250.0, -2), Value::Float64(1300.0));
    let i = |x: i64, d: i32| round(&Value::Int64(x), d, DataType::Int64);
    assert_eq!(i(1234, 2), Value::Int64(1234));
    assert_eq!(i(1250, -2), Value::Int64(1300));
    assert_eq!(i(-1250, -2), Value::Int64(-1300));
    assert_eq!(i(-1249, -2), Value::Int64(-1200));
    assert_eq!(i(5, -40), Value::Int64(0));
}

#[test]
fn round_is_exact_on_decimals() {
    let r = |v: i128, s: u8, d: i32, out: u8| round(&dec(v, s), d, dec_type(out));
    // 2.675 is not exact in binary; as a decimal it rounds up.
    assert_eq!(r(2675, 3, 2, 2), dec(268, 2));
    assert_eq!(r(-2675, 3, 2, 2), dec(-268, 2));
    assert_eq!(r(-2674, 3, 2, 2), dec(-267, 2));
    assert_eq!(r(2500, 3, 0, 0), dec(3, 0));
    assert_eq!(r(-2500, 3, 0, 0), dec(-3, 0));
    assert_eq!(r(123_456, 2, -2, 0), dec(1200, 0));
    assert_eq!(r(-125_000, 2, -2, 0), dec(-1300, 0));
    // More digits than the scale: unchanged.
    assert_eq!(r(1234, 2, 5, 2), dec(1234, 2));
}

#[test]
fn floor_and_ceil() {
    assert_eq!(floor_ceil(&dec(-125, 2), false), dec(-2, 0));
    assert_eq!(floor_ceil(&dec(-125, 2), true), dec(-1, 0));
    assert_eq!(floor_ceil(&dec(125, 2), false), dec(1, 0));
    assert_eq!(floor_ceil(&dec(125, 2), true), dec(2, 0));
    assert_eq!(floor_ceil(&dec(200, 2), true), dec(2, 0));
    assert_eq!(
        floor_ceil(&Value::Float64(-1.5), false),
        Value::Float64(-2.0)
    );
    assert_eq!(floor_ceil(&Value::Int64(7), true), Value::Int64(7));
}

#[test]
fn math() {
    let f = DataType::Float64;
    assert_eq!(
        strict(ScalarFunc::Abs, &[Value::Int64(-3)], DataType::Int64),
        Value::Int64(3)
    );
    assert_eq!(
        strict(ScalarFunc::Abs, &[Value::Int64(i64::MIN)], DataType::Int64),
        Value::Null
    );
    assert_eq!(
        strict(ScalarFunc::Abs, &[dec(-15, 1)], dec_type(1)),
        dec(15, 1)
    );
    assert_eq!(
        strict(ScalarFunc::Sqrt, &[Value::Int64(16)], f),
        Value::Float64(4.0)
    );
    assert_eq!(
        strict(ScalarFunc::Sqrt, &[Value::Int64(-1)], f),
        Value::Null
    );
    assert_eq!(
        strict(ScalarFunc::Power, &[Value::Int64(2), Value::Int64(10)], f),
        Value::Float64(1024.0)
    );
    assert_eq!(
        strict(
            ScalarFunc::Power,
            &[Value::Int64(-8), Value::Float64(0.5)],
            f
        ),
        Value::Null
    );
}

#[test]
fn extract_fields() {
    let e = |p| extract(p, LEAP);
    assert_eq!(e(DatePart::Year), Value::Int64(2024));
    assert_eq!(e(DatePart::Quarter), Value::Int64(1));
    assert_eq!(e(DatePart::Month), Value::Int64(2));
    assert_eq!(e(DatePart::Week), Value::Int64(9));
    assert_eq!(e(DatePart::Day), Value::Int64(29));
    assert_eq!(e(DatePart::Hour), Value::Int64(13));
    assert_eq!(e(DatePart::Minute), Value::Int64(45));
    assert_eq!(e(DatePart::Second), dec(30_250, 3));
    assert_eq!(e(DatePart::Millisecond), Value::Int64(30_250));
    assert_eq!(e(DatePart::Dow), Value::Int64(4));
    assert_eq!(e(DatePart::IsoDow), Value::Int64(4));
    assert_eq!(e(DatePart::Doy), Value::Int64(60));
    assert_eq!(e(DatePart::Epoch), dec(LEAP as i128, 3));
    // Before the epoch: 1969-12-31T23:59:59.999Z, a Wednesday.
    assert_eq!(extract(DatePart::Year, -1), Value::Int64(1969));
    assert_eq!(extract(DatePart::Millisecond, -1), Value::Int64(59_999));
    assert_eq!(extract(DatePart::Dow, -1), Value::Int64(3));
    // A Sunday: 2024-03-03.
    assert_eq!(extract(DatePart::Dow, 1_709_424_000_000), Value::Int64(0));
    assert_eq!(
        extract(DatePart::IsoDow, 1_709_424_000_000),
        Value::Int64(7)
    );
}

#[test]
fn date_trunc_units() {
    let iso = |ms: Option<i64>| crate::data::column::format_timestamp(ms.unwrap());
    let t = |u| iso(date_trunc(u, LEAP));
    assert_eq!(t(TruncUnit::Second), "2024-02-29T13:45:30.000Z");
    assert_eq!(t(TruncUnit::Minute), "2024-02-29T13:45:00.000Z");
    assert_eq!(t(TruncUnit::Hour), "2024-02-29T13:00:00.000Z");
    assert_eq!(t(TruncUnit::Day), "2024-02-29T00:00:00.000Z");
    assert_eq!(t(TruncUnit::Week), "2024-02-26T00:00:00.000Z");
    assert_eq!(t(TruncUnit::Month), "2024-02-01T00:00:00.000Z");
    assert_eq!(t(TruncUnit::Quarter), "2024-01-01T00:00:00.000Z");
    assert_eq!(t(TruncUnit::Year), "2024-01-01T00:00:00.000Z");
    // Truncation goes down, also before the epoch.
    assert_eq!(
        iso(date_trunc(TruncUnit::Second, -1)),
        "1969-12-31T23:59:59.000Z"
    );
    assert_eq!(
        iso(date_trunc(TruncUnit::Week, 0)),
        "1969-12-29T00:00:00.000Z"
    );
    assert_eq!(
        iso(date_trunc(TruncUnit::Month, -1)),
        "1969-12-01T00:00:00.000Z"
    );
    assert_eq!(TruncUnit::parse("Day"), Some(TruncUnit::Day));
    assert_eq!(TruncUnit::parse("fortnight"), None);
}

fn lit(value: Value) -> Expr {
    let data_type = value.data_type().unwrap_or(DataType::Int64);
    Expr::Literal { value, data_type }
}

fn one_row() -> Batch {
    Batch::new(Vec::new(), 1)
}

#[test]
fn null_propagation_and_three_valued_logic() {
    let b = one_row();
    let null = || lit(Value::Null);
    let int = |x| lit(Value::Int64(x));
    let call = |f, args: &[Expr], t| eval_call(f, args, t, &b, 0);
    assert_eq!(
        call(ScalarFunc::Upper, &[null()], DataType::Utf8),
        Value::Null
    );
    assert_eq!(
        call(
            ScalarFunc::Substring,
            &[lit(s("abc")), null()],
            DataType::Utf8
        ),
        Value::Null
    );
    assert_eq!(
        call(
            ScalarFunc::Concat,
            &[lit(s("a")), null(), int(2)],
            DataType::Utf8
        ),
        s("a2")
    );
    assert_eq!(
        call(ScalarFunc::ConcatOp, &[lit(s("a")), null()], DataType::Utf8),
        Value::Null
    );
    assert_eq!(
        call(ScalarFunc::Coalesce, &[null(), int(2), int(3)], dec_type(1)),
        dec(20, 1)
    );
    assert_eq!(
        call(ScalarFunc::Coalesce, &[null(), null()], DataType::Int64),
        Value::Null
    );
    assert_eq!(
        call(ScalarFunc::NullIf, &[int(1), int(1)], DataType::Int64),
        Value::Null
    );
    assert_eq!(
        call(ScalarFunc::NullIf, &[int(1), int(2)], DataType::Int64),
        Value::Int64(1)
    );
    assert_eq!(
        call(ScalarFunc::NullIf, &[int(1), null()], DataType::Int64),
        Value::Int64(1)
    );
    assert_eq!(
        call(ScalarFunc::NullIf, &[null(), int(1)], DataType::Int64),
        Value::Null
    );

    let in_list = |x, l: &[Expr], neg| eval_in_list(&x, l, neg, &b, 0);
    assert_eq!(in_list(int(1), &[int(1), null()], false), Value::Bool(true));
    assert_eq!(in_list(int(2), &[int(1), null()], false), Value::Null);
    assert_eq!(
        in_list(int(2), &[int(1), int(3)], false),
        Value::Bool(false)
    );
    assert_eq!(in_list(int(2), &[int(1), null()], true), Value::Null);
    assert_eq!(in_list(int(1), &[int(1), null()], true), Value::Bool(false));
    assert_eq!(in_list(int(2), &[int(1)], true), Value::Bool(true));
    assert_eq!(in_list(null(), &[int(1)], true), Value::Null);

    let between = |x, lo, hi, neg| eval_between(&x, &lo, &hi, neg, &b, 0);
    assert_eq!(between(int(2), int(1), int(3), false), Value::Bool(true));
    assert_eq!(between(int(1), int(1), int(3), false), Value::Bool(true));
    assert_eq!(between(int(4), int(1), int(3), true), Value::Bool(true));
    assert_eq!(between(int(2), null(), int(3), false), Value::Null);
    // FALSE AND NULL is FALSE: 4 is not below 3 whatever the low bound.
    assert_eq!(between(int(4), null(), int(3), false), Value::Bool(false));
    assert_eq!(between(int(4), null(), int(3), true), Value::Bool(true));

    let when = |c: Value, r: i64| (lit(c), int(r));
    let case = |branches: &[(Expr, Expr)], otherwise: Option<&Expr>| {
        eval_case(None, branches, otherwise, DataType::Int64, &b, 0)
    };
    assert_eq!(
        case(&[when(Value::Null, 1), when(Value::Bool(true), 2)], None),
        Value::Int64(2)
    );
    assert_eq!(case(&[when(Value::Bool(false), 1)], None), Value::Null);
    assert_eq!(
        case(&[when(Value::Bool(false), 1)], Some(&int(9))),
        Value::Int64(9)
    );
    // Simple form: a NULL operand matches no WHEN, not even WHEN NULL.
    let simple = eval_case(
        Some(&null()),
        &[(null(), int(1))],
        Some(&int(0)),
        DataType::Int64,
        &b,
        0,
    );
    assert_eq!(simple, Value::Int64(0));
}

#[test]
fn vectorised_predicates_keep_nulls() {
    let mut col = Column::new(DataType::Int64);
    for v in [
        Value::Int64(1),
        Value::Null,
        Value::Int64(5),
        Value::Int64(3),
    ] {
        col.push_value(&v);
    }
    let lo = lit(Value::Int64(2));
    let hi = lit(Value::Int64(5));
    let out = between_column(&col, &lo, &hi, false).unwrap();
    let values: Vec<Value> = (0..4).map(|i| out.value(i)).collect();
    assert_eq!(
        values,
        [
            Value::Bool(false),
            Value::Null,
            Value::Bool(true),
            Value::Bool(true)
        ]
    );
    let out = in_list_column(&col, &[lit(Value::Int64(3)), lit(Value::Int64(1))], true).unwrap();
    let values: Vec<Value> = (0..4).map(|i| out.value(i)).collect();
    assert_eq!(
        values,
        [
            Value::Bool(false),
            Value::Null,
            Value::Bool(true),
            Value::Bool(false)
        ]
    );
    // A NULL in the list is not a literal number: the row path handles it.
    assert!(in_list_column(&col, &[lit(Value::Null)], false).is_none());

    let mut strings = Column::new(DataType::Utf8);
    for v in [s("apple"), Value::Null, s("grape")] {
        strings.push_value(&v);
    }
    let p = LikePattern::compile("%ap%", None, false).unwrap();
    let out = like_column(&strings, &p, true).unwrap();
    let values: Vec<Value> = (0..3).map(|i| out.value(i)).collect();
    assert_eq!(
        values,
        [Value::Bool(false), Value::Null, Value::Bool(false)]
    );
}

#[test]
fn between_columns_includes_both_bounds_and_leaves_nulls_to_the_row_path() {
    let ints = |v: &[i64]| Column::from_data(ColumnData::Timestamp(v.to_vec()));
    let (x, lo, hi) = (
        ints(&[1, 2, 3, 4]),
        ints(&[1, 3, 0, 5]),
        ints(&[1, 4, 2, 9]),
    );
    let out = between_columns(&x, &lo, &hi, false).unwrap();
    let values: Vec<Value> = (0..4).map(|i| out.value(i)).collect();
    let b = Value::Bool;
    assert_eq!(values, [b(true), b(false), b(false), b(false)]);
    let out = between_columns(&x, &lo, &hi, true).unwrap();
    assert_eq!(out.value(1), b(true));
    let mut with_null = Column::new(DataType::Timestamp);
    for v in [
        Value::Timestamp(1),
        Value::Null,
        Value::Timestamp(1),
        Value::Null,
    ] {
        with_null.push_value(&v);
    }
    assert!(between_columns(&x, &with_null, &hi, false).is_none());
    assert!(between_columns(&x, &Column::new(DataType::Int64), &hi, false).is_none());
}

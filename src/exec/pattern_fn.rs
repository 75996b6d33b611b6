//! The functions whose pattern argument is compiled once, when the query is
//! planned: `DATE_FORMAT(ts, pattern)` and `REGEXP_EXTRACT(s, regex [, group])`,
//! as Flink has them. Both give VARCHAR, and NULL when an argument is NULL.
//!
//! `REGEXP_EXTRACT` gives group `group` (0, the default, is the whole match)
//! of the first match, NULL when nothing matches, the group took no part in
//! the match, or the group is negative or past the regex's groups.
//!
//! A batch is evaluated in one loop over the input column, each result
//! written straight into the output column.

use super::date_format::DateFormat;
use super::expr::Expr;
use crate::data::column::{ColumnData, Utf8Column};
use crate::data::{Batch, Column, Value};

/// A function with a compiled pattern; its other arguments are the call's.
#[derive(Debug, Clone, PartialEq)]
pub enum PatternFunc {
    /// Arguments: `[ts]`, a TIMESTAMP or BIGINT epoch milliseconds.
    DateFormat(DateFormat),
    /// Arguments: `[s, group]`, a VARCHAR and a BIGINT.
    RegexpExtract(Regex),
}

/// A compiled regex; two are equal when their sources are (so that a GROUP
/// BY key and the same expression in the select list are one).
#[derive(Debug, Clone)]
pub struct Regex(regex::Regex);

impl Regex {
    pub fn new(compiled: regex::Regex) -> Regex {
        Regex(compiled)
    }

    /// The regex as written.
    pub fn source(&self) -> &str {
        self.0.as_str()
    }

    /// Its groups, not counting group 0 (the whole match).
    pub fn groups(&self) -> usize {
        self.0.captures_len() - 1
    }

    /// Group `group` of the first match in `s`, if it took part.
    pub fn extract<'s>(&self, s: &'s str, group: i64) -> Option<&'s str> {
        let g = usize::try_from(group).ok()?;
        if g == 0 {
            return self.0.find(s).map(|m| m.as_str());
        }
        if g > self.groups() {
            return None;
        }
        self.0.captures(s)?.get(g).map(|m| m.as_str())
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.source() == other.source()
    }
}

impl PatternFunc {
    /// The call in SQL, given its arguments' text.
    pub fn sql(&self, args: &[String]) -> String {
        let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
        match self {
            PatternFunc::DateFormat(f) => {
                format!("DATE_FORMAT({}, {})", args[0], quoted(f.source()))
            }
            PatternFunc::RegexpExtract(r) => format!(
                "REGEXP_EXTRACT({}, {}, {})",
                args[0],
                quoted(r.source()),
                args[1]
            ),
        }
    }
}

/// Evaluates `func(args)` at `row`.
pub(super) fn eval_row(func: &PatternFunc, args: &[Expr], batch: &Batch, row: usize) -> Value {
    let text = |s: Option<String>| s.map_or(Value::Null, Value::Utf8);
    match func {
        PatternFunc::DateFormat(f) => match args[0].eval_row(batch, row) {
            Value::Timestamp(ms) | Value::Int64(ms) => text(f.format(ms)),
            _ => Value::Null,
        },
        PatternFunc::RegexpExtract(r) => {
            match (args[0].eval_row(batch, row), args[1].eval_row(batch, row)) {
                (Value::Utf8(s), Value::Int64(g)) => text(r.extract(&s, g).map(str::to_owned)),
                _ => Value::Null,
            }
        }
    }
}

/// Evaluates `func(args)` over every row of `batch`.
pub(super) fn eval_column(func: &PatternFunc, args: &[Expr], batch: &Batch) -> Column {
    let input = args[0].eval(batch);
    match func {
        PatternFunc::DateFormat(f) => match &input.data {
            ColumnData::Timestamp(v) | ColumnData::Int64(v) => strings(batch.len, |i, out| {
                input.is_valid(i) && f.format_into(v[i], out)
            }),
            // A NULL literal: every row is NULL.
            _ => strings(batch.len, |_, _| false),
        },
        PatternFunc::RegexpExtract(r) => {
            let group = args[1].eval(batch);
            match (&input.data, &group.data) {
                (ColumnData::Utf8(s), ColumnData::Int64(g)) => strings(batch.len, |i, out| {
                    let found = (input.is_valid(i) && group.is_valid(i))
                        .then(|| r.extract(s.get(i), g[i]))
                        .flatten();
                    found.inspect(|m| out.push_str(m)).is_some()
                }),
                _ => strings(batch.len, |_, _| false),
            }
        }
    }
}

/// A VARCHAR column of `len` rows: row `i` is what `row(i, buf)` appends to
/// an empty `buf` when it returns true, else NULL.
fn strings(len: usize, mut row: impl FnMut(usize, &mut String) -> bool) -> Column {
    let mut data = Utf8Column::with_capacity(len, len * 16);
    let mut validity = vec![true; len];
    let mut nulls = false;
    let mut buf = String::new();
    for (i, valid) in validity.iter_mut().enumerate() {
        buf.clear();
        if row(i, &mut buf) {
            data.push(&buf);
        } else {
            data.push("");
            *valid = false;
            nulls = true;
        }
    }
    Column {
        data: ColumnData::Utf8(data),
        validity: nulls.then_some(validity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataType;

    fn regex(s: &str) -> Regex {
        Regex::new(regex::Regex::new(s).unwrap())
    }

    #[test]
    fn regexp_extract_follows_flink() {
        let r = regex("(&|^)channel_id=([^&]*)");
        assert_eq!(r.groups(), 2);
        let url = "https://x.com/a?channel_id=7&b=2";
        assert_eq!(r.extract(url, 2), None, "no `&` or start before it");
        let url = "https://x.com/a?b=2&channel_id=7&c=3";
        assert_eq!(r.extract(url, 2), Some("7"));
        assert_eq!(r.extract(url, 1), Some("&"));
        assert_eq!(r.extract(url, 0), Some("&channel_id=7"));
        assert_eq!(r.extract("channel_id=&x", 2), Some(""));
        assert_eq!(r.extract(url, 3), None);
        assert_eq!(r.extract(url, -1), None);
        assert_eq!(r.extract("nothing here", 0), None);
        // A group that took no part in the match.
        let r = regex("a(x)?b");
        assert_eq!(r.extract("zab", 0), Some("ab"));
        assert_eq!(r.extract("zab", 1), None);
        // The first match, not the longest.
        assert_eq!(regex("o+").extract("fo foooo", 0), Some("o"));
    }

    #[test]
    fn equal_when_written_alike() {
        assert_eq!(regex("a+"), regex("a+"));
        assert_ne!(regex("a+"), regex("a*"));
    }

    fn batch(columns: Vec<Column>) -> Batch {
        let len = columns[0].len();
        Batch::new(columns, len)
    }

    fn values(c: &Column) -> Vec<Value> {
        (0..c.len()).map(|i| c.value(i)).collect()
    }

    #[test]
    fn the_column_path_gives_the_row_path_values() {
        let mut times = Column::new(DataType::Timestamp);
        for v in [
            Value::Timestamp(0),
            Value::Null,
            Value::Timestamp(i64::MAX),
            Value::Timestamp(60_000),
        ] {
            times.push_value(&v);
        }
        let mut urls = Column::new(DataType::Utf8);
        for v in ["a=1&b=2", "", "b=3"] {
            urls.push_value(&Value::Utf8(v.into()));
        }
        urls.push_null();
        let mut groups = Column::new(DataType::Int64);
        for g in [1, 1, 0] {
            groups.push_value(&Value::Int64(g));
        }
        groups.push_null();
        let b = batch(vec![times, urls, groups]);
        let col = |index, data_type| Expr::Column { index, data_type };
        let calls = [
            (
                PatternFunc::DateFormat(DateFormat::compile("yyyy-MM-dd HH:mm").unwrap()),
                vec![col(0, DataType::Timestamp)],
            ),
            (
                PatternFunc::RegexpExtract(regex("b=([0-9])")),
                vec![col(1, DataType::Utf8), col(2, DataType::Int64)],
            ),
        ];
        for (func, args) in &calls {
            let by_column = values(&eval_column(func, args, &b));
            let by_row: Vec<Value> = (0..b.len).map(|i| eval_row(func, args, &b, i)).collect();
            assert_eq!(by_column, by_row, "{func:?}");
        }
        assert_eq!(
            values(&eval_column(&calls[0].0, &calls[0].1, &b)),
            [
                Value::Utf8("1970-01-01 00:00".into()),
                Value::Null,
                Value::Null,
                Value::Utf8("1970-01-01 00:01".into()),
            ]
        );
        assert_eq!(
            values(&eval_column(&calls[1].0, &calls[1].1, &b)),
            [
                Value::Utf8("2".into()),
                Value::Null,
                Value::Utf8("b=3".into()),
                Value::Null,
            ]
        );
    }
}

use super::*;

/// `extend_within` pushes what `push_within` pushes one by one, up to the
/// first empty field: short and long strings, next to the end of the
/// text (no room for a fixed-size copy) or not, onto a column that
/// already has strings.
#[test]
fn extend_within_pushes_as_push_within_up_to_an_empty_field() {
    let long = "λ".repeat(40);
    let parts = ["a", "", "ab", long.as_str(), "Zürich", "", "x", "end"];
    let text = parts.join(";");
    let mut bounds = Vec::new();
    let mut at = 0;
    for p in parts {
        bounds.push((at, at + p.len()));
        at += p.len() + 1;
    }
    let bytes = text.as_bytes();
    for from in 0..bounds.len() {
        for to in from..=bounds.len() {
            let fields = &bounds[from..to];
            let mut got = Utf8Column::default();
            got.push("before");
            let most = fields.iter().map(|(start, end)| end - start).sum();
            let pushed = got.extend_within(bytes, fields.iter().copied(), most);
            let mut expected = Utf8Column::default();
            expected.push("before");
            for &(start, end) in fields.iter().take_while(|(s, e)| s != e) {
                expected.push_within(bytes, start, end);
            }
            assert_eq!(pushed, expected.len() - 1, "{from}..{to}");
            assert_eq!(got, expected, "{from}..{to}");
        }
    }
}

/// `touch` reads a column of any type, empty or not, with NULLs or not
/// (it is called on every batch a shard takes, before any operator).
#[test]
fn touch_reads_columns_of_every_type_and_length() {
    let types = [
        DataType::Int64,
        DataType::Float64,
        DataType::Bool,
        DataType::Utf8,
        DataType::Timestamp,
        DataType::Decimal {
            precision: 10,
            scale: 2,
        },
    ];
    for t in types {
        let mut c = Column::new(t);
        c.touch();
        c.push_null();
        c.touch();
        for _ in 0..100 {
            c.push_from(&c.clone(), 0);
        }
        c.touch();
    }
}

/// In-place `retain_rows` keeps exactly what `gather` copies, for every
/// type, with and without NULLs, for runs and gaps of any length.
#[test]
fn retain_rows_matches_gather() {
    // Strings of 0 to 22 bytes, each its own letters, so that a byte
    // moved from the wrong place shows.
    let values: Vec<Value> = (0..200usize)
        .map(|i| match i % 7 {
            3 => Value::Null,
            _ => Value::Utf8(
                (0..(i * 5) % 23)
                    .map(|j| (b'a' + ((i + j) % 26) as u8) as char)
                    .collect(),
            ),
        })
        .collect();
    let mut seed = 3u64;
    let mut random = |keep_one_in: u64| -> Vec<u32> {
        (0..200u32)
            .filter(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                !(seed >> 33).is_multiple_of(keep_one_in)
            })
            .collect()
    };
    let selections: Vec<Vec<u32>> = vec![
        vec![],
        (0..200).collect(),
        (0..200).filter(|i| i % 3 != 1).collect(),
        (5..12).chain(30..40).chain(150..200).collect(),
        vec![199],
        vec![0],
        random(2),
        random(5),
        random(50),
    ];
    for t in [DataType::Utf8, DataType::Int64, DataType::Float64] {
        for with_nulls in [false, true] {
            let mut c = Column::new(t);
            for (i, v) in values.iter().enumerate() {
                let v = match (t, v) {
                    (_, Value::Null) if with_nulls => Value::Null,
                    (DataType::Utf8, Value::Null) => Value::Utf8("n".into()),
                    (DataType::Utf8, v) => v.clone(),
                    _ => Value::Int64(i as i64),
                };
                assert!(c.push_value(&v));
            }
            for s in &selections {
                let mut kept = c.clone();
                kept.retain_rows(s);
                assert_eq!(kept, c.gather(s), "{t} nulls {with_nulls} {s:?}");
            }
        }
    }
}

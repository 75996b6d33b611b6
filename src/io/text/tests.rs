use super::*;
use crate::data::DataType;

#[test]
fn infers_types_from_samples() {
    let csv =
        "ts,sym,px,n,flag\n2026-01-01T00:00:01Z,A,1.5,3,true\n2026-01-01 00:00:02,B,2,4,false\n";
    let src = TextSource::from_reader(
        "t",
        Box::new(std::io::Cursor::new(csv)),
        &TextOptions::default(),
    )
    .unwrap();
    let types: Vec<DataType> = src.schema().fields.iter().map(|f| f.data_type).collect();
    assert_eq!(
        types,
        vec![
            DataType::Timestamp,
            DataType::Utf8,
            DataType::Float64,
            DataType::Int64,
            DataType::Bool
        ]
    );
}

#[test]
fn a_byte_order_mark_is_dropped_at_the_start_only_on_both_paths() {
    // 1 MiB: lines decoded from the read buffer; 100: the record path.
    for bound in [1 << 20, 100] {
        let (rows, rejected) = drain("\u{feff}1,2\n3,4\n", bound);
        assert_eq!(rows, vec![vec![1, 2], vec![3, 4]], "bound {bound}");
        assert!(rejected.is_empty(), "bound {bound}: {rejected:?}");
        // After a blank first line and with a quote (so the record path
        // takes it on both), a mark is data.
        let (rows, rejected) = drain("\n\u{feff}5,\"6\"\n", bound);
        assert!(rows.is_empty(), "bound {bound}: {rows:?}");
        assert_eq!(rejected.len(), 1, "bound {bound}");
        assert!(
            rejected[0].1.contains("\\u{feff}5"),
            "bound {bound}: {rejected:?}"
        );
    }
}

/// Drains a source over `csv` (no header, two BIGINT columns): the rows
/// read, and each rejected record's line and reason.
fn drain(csv: &str, max_line_bytes: usize) -> (Vec<Vec<i64>>, Vec<(u64, String)>) {
    let options = TextOptions {
        header: false,
        schema: Some(parse_schema("a BIGINT, b BIGINT").unwrap()),
        on_error: OnError::Fail,
        max_line_bytes,
        ..TextOptions::default()
    };
    let mut src = TextSource::from_reader(
        "t",
        Box::new(std::io::Cursor::new(csv.to_owned())),
        &options,
    )
    .unwrap();
    let (mut rows, mut rejected) = (Vec::new(), Vec::new());
    loop {
        match src.poll(1, None) {
            Ok(Poll::Batch(b)) => rows.push(
                (0..b.columns.len())
                    .map(|c| b.columns[c].value(0).as_i64().unwrap())
                    .collect(),
            ),
            Ok(_) => break,
            Err(Error::Input { line, reason, .. }) => rejected.push((line, reason)),
            Err(e) => panic!("{e}"),
        }
    }
    (rows, rejected)
}

#[test]
fn a_bare_cr_ends_a_record_and_the_rest_of_the_line_is_read() {
    // Found by tests/fuzz.rs: the records after a bare CR were dropped silently.
    let (rows, rejected) = drain("1,2\r3,4\n5,6\n", 1 << 20);
    assert_eq!(rows, [[1, 2], [3, 4], [5, 6]]);
    assert!(rejected.is_empty(), "{rejected:?}");
    let (rows, _) = drain("1,2\r3,4\r5,6\r", 1 << 20);
    assert_eq!(rows, [[1, 2], [3, 4], [5, 6]], "CR-only line ends");
    let (rows, _) = drain("1,2\r\n3,4\r\n", 1 << 20);
    assert_eq!(rows, [[1, 2], [3, 4]], "CRLF");
}

#[test]
fn the_records_after_a_bare_cr_are_replayed_after_inference() {
    let options = TextOptions {
        header: false,
        ..TextOptions::default()
    };
    // Sampling stops after a record that ends at a CR, with the rest of its line unread.
    let csv = "0,0\n".to_owned() + &"1,2\r3,4\n".repeat(INFER_ROWS) + "5,6\r7,8";
    let mut src =
        TextSource::from_reader("t", Box::new(std::io::Cursor::new(csv)), &options).unwrap();
    let mut firsts = Vec::new();
    while let Poll::Batch(b) = src.poll(1000, None).unwrap() {
        firsts.extend((0..b.len).map(|i| b.columns[0].value(i).as_i64().unwrap()));
    }
    let mut expected = vec![0];
    expected.extend([1, 3].repeat(INFER_ROWS));
    expected.extend([5, 7]);
    assert_eq!(firsts, expected);
}

#[test]
fn blank_lines_are_not_part_of_the_next_record() {
    // Found by tests/fuzz.rs: blank lines counted toward the next record's
    // length and gave it their line number.
    let (rows, rejected) = drain("\n\n1,2\n", 3);
    assert_eq!(rows, [[1, 2]]);
    assert!(rejected.is_empty(), "{rejected:?}");
    let (_, rejected) = drain("1,2\n\n\r\n\nx,y\n", 1 << 20);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, 5, "{rejected:?}");
}

#[test]
fn a_last_line_of_exactly_the_bound_is_not_too_long() {
    // Found by tests/fuzz.rs: without a final newline it was rejected.
    let (rows, rejected) = drain("1,2\n3,4", 3);
    assert_eq!(rows, [[1, 2], [3, 4]]);
    assert!(rejected.is_empty(), "{rejected:?}");
    let (_, rejected) = drain("1,22", 3);
    assert!(rejected[0].1.contains("max_line_bytes"), "{rejected:?}");
}

#[test]
fn inference_samples_every_row_not_only_the_first() {
    let csv = "n,x\n1,a\n2.5,b\n";
    let src = TextSource::from_reader(
        "t",
        Box::new(std::io::Cursor::new(csv)),
        &TextOptions::default(),
    )
    .unwrap();
    assert_eq!(src.schema().fields[0].data_type, DataType::Float64);
}

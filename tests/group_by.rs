//! The trades GROUP BY through the library API, checked against a plain
//! reference computed in the test and against itself across shard counts and
//! batch sizes (DESIGN.md invariants 2, 3 and 7).
//!
//! Floats are compared exactly: a key lives on one shard and its rows arrive
//! in input order, so every sum is accumulated in the same order as the
//! reference's and is bit-identical.
//!
//! Nothing here depends on timing: the linger only decides how rows are cut
//! into batches, and every check holds for any cut.

mod common;

use common::*;
use std::collections::HashMap;

const SHARD_COUNTS: [&str; 2] = ["0", "0-1"];
const BATCH_SIZES: [usize; 4] = [1, 7, 64, 4096];

/// The reference's input: the generator's records, read directly.
fn trades() -> Vec<Trade> {
    let trades = generate_trades(INPUT);
    assert_eq!(trades.len() as u64, RECORDS);
    trades
}

fn all(_: &Trade) -> bool {
    true
}

fn every(_: &Group) -> bool {
    true
}

/// Checks the accounting of a run that read all of [`INPUT`] with `shards` shards.
fn assert_accounting(out: &corestream::RunOutput, shards: usize, rows_out: usize) {
    let s = &out.summary;
    let t = s.total();
    assert_eq!(s.records_read, RECORDS, "records_read");
    assert_eq!(s.malformed, 0, "malformed");
    assert_eq!(t.records_in, RECORDS, "records_in");
    assert_eq!(
        t.processed + t.filtered + t.late,
        t.records_in,
        "per-run identity: {t:?}"
    );
    assert_eq!(t.late, 0, "no event-time logic here, nothing is late");
    assert!(s.identity_holds(), "identity_holds: {s:?}");
    assert_eq!(s.shards.len(), shards, "one summary row per shard");
    for (core, st) in &s.shards {
        assert_eq!(
            st.processed + st.filtered + st.late,
            st.records_in,
            "shard on core {core}: {st:?}"
        );
    }
    assert_eq!(
        t.rows_out, rows_out as u64,
        "summary rows_out vs rows collected"
    );
    assert_eq!(
        out.collected.len(),
        shards,
        "one collected vector per shard"
    );
}

#[test]
fn output_columns_are_named_by_the_select_list() {
    let out = run(&group_by_sql(None, None, "EMIT FINAL"), INPUT, "0", 4096);
    assert_eq!(
        column_names(&out),
        [
            "trader_id",
            "symbol",
            "trade_count",
            "avg_price",
            "total_quantity",
            "total_value"
        ]
    );
}

#[test]
fn engine_reads_exactly_the_generator_records_in_order() {
    // The reference below reads the generator directly; the engine must see the
    // same records. One shard keeps the source order end to end.
    let direct = trades();
    let through_engine = engine_trades(INPUT);
    assert_eq!(through_engine.len(), direct.len());
    for (i, (a, b)) in through_engine.iter().zip(&direct).enumerate() {
        assert!(
            a.event_time == b.event_time
                && a.trader_id == b.trader_id
                && a.symbol == b.symbol
                && a.price.to_bits() == b.price.to_bits()
                && a.quantity == b.quantity,
            "record {i}: engine {a:?}, generator {b:?}"
        );
    }
    // The input spans every key, so the GROUP BY below has 200 groups.
    let keys: std::collections::HashSet<Key> = direct.iter().map(key_of).collect();
    assert_eq!(keys.len(), 200);
}

#[test]
fn final_is_the_same_for_every_shard_count_and_batch_size() {
    let sql = group_by_sql(None, None, "EMIT FINAL");
    let baseline = sorted_rows(&run(&sql, INPUT, "0", 4096));
    assert_eq!(baseline.len(), 200, "one row per (trader_id, symbol)");
    for cores in SHARD_COUNTS {
        for batch_size in BATCH_SIZES {
            let out = run(&sql, INPUT, cores, batch_size);
            let shards = if cores == "0" { 1 } else { 2 };
            assert_accounting(&out, shards, 200);
            if shards == 2 {
                // Both shards must own keys, or this compares one shard with one shard.
                for (core, st) in &out.summary.shards {
                    assert!(
                        st.records_in > 0 && st.rows_out > 0,
                        "shard on core {core} got nothing: {st:?}"
                    );
                }
            }
            let rows = sorted_rows(&out);
            assert!(
                rows == baseline,
                "cores {cores}, batch size {batch_size}: the FINAL result differs from 1 shard, batch 4096\n\
                 first difference: {:?}",
                rows.iter().zip(&baseline).find(|(a, b)| a != b)
            );
        }
    }
}

#[test]
fn final_equals_the_reference() {
    let expected = reference_final(&trades(), all, every);
    assert_eq!(expected.len(), 200);
    for cores in SHARD_COUNTS {
        let out = run(&group_by_sql(None, None, "EMIT FINAL"), INPUT, cores, 4096);
        let rows = sorted_rows(&out);
        assert_eq!(rows.len(), expected.len(), "cores {cores}: group count");
        for (got, want) in rows.iter().zip(&expected) {
            assert_eq!(
                got, want,
                "cores {cores}: FINAL row differs from the reference"
            );
        }
    }
}

#[test]
fn final_emits_one_row_per_group_on_the_shard_that_owns_it() {
    let out = run(&group_by_sql(None, None, "EMIT FINAL"), INPUT, "0-1", 64);
    let by_key = rows_by_key(&out); // fails if a key has rows on two shards
    assert_eq!(by_key.len(), 200);
    for (key, rows) in &by_key {
        assert_eq!(rows.len(), 1, "key {key:?}: FINAL emits exactly one row");
    }
}

#[test]
fn no_emit_clause_means_emit_changes() {
    let implicit = run(&group_by_sql(None, None, ""), INPUT, "0", 4096);
    let explicit = run(&group_by_sql(None, None, "EMIT CHANGES"), INPUT, "0", 4096);
    assert_eq!(implicit.summary.total().rows_out, RECORDS);
    assert_eq!(shard_rows(&implicit), shard_rows(&explicit));
}

#[test]
fn changes_emits_a_row_per_record_and_ends_on_the_final_row() {
    let trades = trades();
    let finals: HashMap<Key, Row> = reference_final(&trades, all, every)
        .into_iter()
        .map(|r| (row_key(&r), r))
        .collect();
    let expected_changes = reference_changes(&trades, every);
    let final_sql = group_by_sql(None, None, "EMIT FINAL");
    let changes_sql = group_by_sql(None, None, "EMIT CHANGES");
    for cores in SHARD_COUNTS {
        let shards = if cores == "0" { 1 } else { 2 };
        let engine_final: HashMap<Key, Row> = sorted_rows(&run(&final_sql, INPUT, cores, 4096))
            .into_iter()
            .map(|r| (row_key(&r), r))
            .collect();
        assert_eq!(
            engine_final, finals,
            "cores {cores}: FINAL differs from the reference"
        );
        for batch_size in [7, 4096] {
            let what = format!("cores {cores}, batch size {batch_size}");
            let out = run(&changes_sql, INPUT, cores, batch_size);
            let emitted: usize = shard_rows(&out).iter().map(Vec::len).sum();
            assert_eq!(emitted as u64, RECORDS, "{what}: rows out == records in");
            assert_accounting(&out, shards, emitted);
            let by_key = rows_by_key(&out); // a key's rows come from one shard
            assert_eq!(by_key.len(), finals.len(), "{what}: keys");
            for (key, rows) in &by_key {
                // The last change of a key is its FINAL row, from the engine's
                // own FINAL run and from the reference.
                let last = rows.last().expect("a key has at least one row");
                assert_eq!(
                    last, &engine_final[key],
                    "{what}: last change of {key:?} vs engine FINAL"
                );
                assert_eq!(
                    last, &finals[key],
                    "{what}: last change of {key:?} vs reference FINAL"
                );
                // Per-key order is preserved: the k-th change is the group
                // after its k-th record.
                let want = &expected_changes[key];
                assert_eq!(rows.len(), want.len(), "{what}: changes of {key:?}");
                if let Some(i) = (0..rows.len()).find(|&i| rows[i] != want[i]) {
                    panic!(
                        "{what}: change {i} of {key:?} is {:?}, the reference says {:?}",
                        rows[i], want[i]
                    );
                }
            }
        }
    }
}

#[test]
fn summary_accounts_for_every_record() {
    for cores in SHARD_COUNTS {
        let shards = if cores == "0" { 1 } else { 2 };
        let out = run(&group_by_sql(None, None, "EMIT FINAL"), INPUT, cores, 7);
        assert_accounting(&out, shards, 200);
        let t = out.summary.total();
        assert_eq!(
            t.processed, RECORDS,
            "cores {cores}: no WHERE, every record is processed"
        );
        assert_eq!(t.filtered, 0, "cores {cores}");
        let render = out.summary.render();
        assert!(render.contains("(holds)"), "cores {cores}: {render}");
        assert!(
            render.contains(&format!("in {RECORDS} = processed {RECORDS} + filtered 0")),
            "{render}"
        );
    }
}

#[test]
fn where_filters_the_records_the_reference_filters() {
    let trades = trades();
    let kept = |t: &Trade| t.quantity > 500;
    let dropped = trades.iter().filter(|t| !kept(t)).count() as u64;
    assert!(
        dropped > 0 && dropped < RECORDS,
        "the condition must split the input: {dropped}"
    );
    let expected = reference_final(&trades, kept, every);
    let sql = group_by_sql(Some("quantity > 500"), None, "EMIT FINAL");
    for cores in SHARD_COUNTS {
        for batch_size in [7, 4096] {
            let what = format!("cores {cores}, batch size {batch_size}");
            let out = run(&sql, INPUT, cores, batch_size);
            let shards = if cores == "0" { 1 } else { 2 };
            assert_accounting(&out, shards, expected.len());
            let t = out.summary.total();
            assert_eq!(
                t.filtered, dropped,
                "{what}: filtered == records with quantity <= 500"
            );
            assert_eq!(
                t.processed,
                RECORDS - dropped,
                "{what}: processed == records with quantity > 500"
            );
            assert_eq!(t.processed + t.filtered, t.records_in, "{what}");
            assert_eq!(
                sorted_rows(&out),
                expected,
                "{what}: FINAL with WHERE vs reference"
            );
        }
    }
}

#[test]
fn where_on_changes_emits_a_row_per_kept_record() {
    let trades = trades();
    let kept: Vec<Trade> = trades
        .iter()
        .filter(|t| t.quantity > 500)
        .cloned()
        .collect();
    let expected = reference_changes(&kept, every);
    let sql = group_by_sql(Some("quantity > 500"), None, "EMIT CHANGES");
    let out = run(&sql, INPUT, "0-1", 64);
    let t = out.summary.total();
    assert_eq!(t.rows_out, kept.len() as u64);
    assert_eq!(t.processed, kept.len() as u64);
    assert_eq!(rows_by_key(&out), expected);
}

#[test]
fn having_keeps_the_groups_the_reference_keeps() {
    let trades = trades();
    let having = |g: &Group| g.count > 100;
    let expected = reference_final(&trades, all, having);
    // The condition must split the groups, or it tests nothing.
    assert!(
        !expected.is_empty() && expected.len() < 200,
        "HAVING keeps {} of 200",
        expected.len()
    );
    let sql = group_by_sql(None, Some("COUNT(*) > 100"), "EMIT FINAL");
    for cores in SHARD_COUNTS {
        for batch_size in [1, 4096] {
            let out = run(&sql, INPUT, cores, batch_size);
            let shards = if cores == "0" { 1 } else { 2 };
            assert_accounting(&out, shards, expected.len());
            assert_eq!(
                sorted_rows(&out),
                expected,
                "cores {cores}, batch size {batch_size}: HAVING vs reference"
            );
        }
    }
}

#[test]
fn having_on_an_aggregate_not_in_the_select_list() {
    let trades = trades();
    let having = |g: &Group| g.sum_quantity >= 50_000;
    let expected = reference_final(&trades, all, having);
    assert!(
        !expected.is_empty() && expected.len() < 200,
        "HAVING keeps {} of 200",
        expected.len()
    );
    let sql = group_by_sql(
        None,
        Some("MAX(quantity) >= 1 AND SUM(quantity) >= 50000"),
        "EMIT FINAL",
    );
    let out = run(&sql, INPUT, "0-1", 4096);
    assert_eq!(sorted_rows(&out), expected);
}

#[test]
fn having_on_changes_emits_only_changes_that_pass() {
    let trades = trades();
    let having = |g: &Group| g.count > 100;
    let expected = reference_changes(&trades, having);
    let sql = group_by_sql(None, Some("COUNT(*) > 100"), "EMIT CHANGES");
    for cores in SHARD_COUNTS {
        let out = run(&sql, INPUT, cores, 7);
        let t = out.summary.total();
        let want_rows: usize = expected.values().map(Vec::len).sum();
        assert_eq!(
            t.processed, RECORDS,
            "cores {cores}: HAVING does not filter input records"
        );
        assert_eq!(t.filtered, 0, "cores {cores}");
        assert_eq!(t.rows_out, want_rows as u64, "cores {cores}: rows out");
        assert_eq!(rows_by_key(&out), expected, "cores {cores}");
    }
}

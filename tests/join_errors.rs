//! Golden tests of the errors a join can meet: each names the kind, the
//! line and column (the text the caret points at) and the reason; a join
//! that corestream cannot run with bounded state is refused, never run.

use corestream::data::{DataType, Field, Schema};
use corestream::sql::{parse, plan_inputs, CatalogInput, InputKind, PlanOptions};
use corestream::SqlErrorKind;

fn schema(fields: &[(&str, DataType)]) -> Schema {
    Schema::new(fields.iter().map(|(n, t)| Field::new(*n, *t)).collect())
}

/// trades and quotes (streams with event time `ts`), instruments (a table
/// keyed by symbol, no event time).
fn catalog() -> Vec<CatalogInput> {
    let timed = PlanOptions {
        event_time: Some("ts".into()),
        ..PlanOptions::default()
    };
    let input = |name: &str, schema: Schema, kind: InputKind, time: &PlanOptions| CatalogInput {
        name: Some(name.into()),
        schema,
        kind,
        time: time.clone(),
        idle_timeout: None,
        bounded: true,
        closes_by_time: false,
    };
    vec![
        input(
            "trades",
            schema(&[
                ("ts", DataType::Int64),
                ("symbol", DataType::Utf8),
                ("price", DataType::Float64),
                ("qty", DataType::Int64),
            ]),
            InputKind::Stream,
            &timed,
        ),
        input(
            "quotes",
            schema(&[
                ("ts", DataType::Int64),
                ("symbol", DataType::Utf8),
                ("bid", DataType::Float64),
            ]),
            InputKind::Stream,
            &timed,
        ),
        input(
            "instruments",
            schema(&[("symbol", DataType::Utf8), ("lot", DataType::Int64)]),
            InputKind::Table {
                primary_key: vec![0],
            },
            &PlanOptions::default(),
        ),
    ]
}

/// Plans `sql` and checks its error: kind, where the caret points (the
/// query from that column on starts with `at`), and the message.
fn refused(sql: &str, kind: SqlErrorKind, at: &str, message: &str) {
    let parsed = parse(sql).unwrap_or_else(|e| panic!("`{sql}` does not parse: {e}"));
    let Err(e) = plan_inputs(&parsed, &catalog()) else {
        panic!("`{sql}` planned without error");
    };
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!(e.line, 1, "{e}");
    let under: String = sql.chars().skip(e.column - 1).collect();
    assert!(
        under.starts_with(at),
        "the caret is at {under:?}, not {at:?}: {e}"
    );
    assert!(e.message.contains(message), "{e}");
}

#[test]
fn right_and_full_joins_are_refused_with_the_way_out() {
    refused(
        "SELECT * FROM trades t RIGHT JOIN instruments i ON t.symbol = i.symbol",
        SqlErrorKind::Unsupported,
        "instruments i",
        "swap the inputs and write LEFT JOIN",
    );
    refused(
        "SELECT * FROM trades t FULL JOIN instruments i ON t.symbol = i.symbol",
        SqlErrorKind::Unsupported,
        "instruments i",
        "FULL JOIN is not supported",
    );
}

#[test]
fn a_join_whose_state_would_grow_without_bound_is_refused() {
    refused(
        "SELECT * FROM trades t JOIN quotes q ON t.symbol = q.symbol",
        SqlErrorKind::Unsupported,
        "quotes q",
        "needs a time bound",
    );
    refused(
        "SELECT * FROM trades t ASOF JOIN quotes q ON t.ts >= q.ts",
        SqlErrorKind::Unsupported,
        "t.ts >= q.ts",
        "needs an equality key",
    );
}

#[test]
fn an_asof_join_matches_at_or_before() {
    refused(
        "SELECT * FROM trades t ASOF JOIN quotes q ON t.symbol = q.symbol AND t.ts > q.ts",
        SqlErrorKind::Unsupported,
        "t.ts > q.ts",
        "write left.time >= right.time",
    );
    refused(
        "SELECT * FROM trades t ASOF JOIN quotes q ON t.symbol = q.symbol",
        SqlErrorKind::Unsupported,
        "t.symbol = q.symbol",
        "needs its time condition",
    );
}

#[test]
fn a_left_join_takes_only_keys_in_on() {
    refused(
        "SELECT * FROM trades t LEFT JOIN instruments i ON t.symbol = i.symbol AND i.lot > 5",
        SqlErrorKind::Unsupported,
        "t.symbol",
        "put other conditions in WHERE",
    );
}

#[test]
fn keys_of_different_types_are_a_type_mismatch() {
    refused(
        "SELECT * FROM trades t JOIN instruments i ON t.qty = i.symbol",
        SqlErrorKind::TypeMismatch,
        "t.qty = i.symbol",
        "join keys must have the same type",
    );
}

#[test]
fn names_resolve_in_their_own_input() {
    refused(
        "SELECT symbol FROM trades t JOIN instruments i ON t.symbol = i.symbol",
        SqlErrorKind::UnknownColumn,
        "symbol FROM",
        "in more than one input",
    );
    refused(
        "SELECT * FROM trades t JOIN prices p ON t.symbol = p.symbol",
        SqlErrorKind::UnknownStream,
        "prices p",
        "the inputs are: trades, quotes, instruments",
    );
    refused(
        "SELECT t.bid FROM trades t ASOF JOIN quotes q ON t.symbol = q.symbol AND t.ts >= q.ts",
        SqlErrorKind::UnknownColumn,
        "bid FROM",
        "no column `bid`",
    );
}

#[test]
fn a_temporal_join_needs_the_tables_event_time() {
    refused(
        "SELECT * FROM trades t JOIN instruments FOR SYSTEM_TIME AS OF t.ts AS i ON t.symbol = i.symbol",
        SqlErrorKind::Unsupported,
        "instruments",
        "joins a table with an event time",
    );
}

/// Not an error: a join followed by a GROUP BY on a table's column runs in
/// a stage of its own, and the exchange re-keys its rows for the next.
#[test]
fn a_join_keyed_otherwise_than_what_follows_gets_an_exchange() {
    let sql = "SELECT i.lot, COUNT(*) AS n FROM trades t JOIN instruments i ON t.symbol = i.symbol GROUP BY i.lot";
    let plan = plan_inputs(&parse(sql).unwrap(), &catalog()).unwrap();
    let stages = plan.stages();
    assert_eq!(stages.len(), 2, "{}", plan.explain());
    assert!(stages[0].join.is_some() && stages[1].join.is_none());
    assert!(
        plan.explain()
            .contains("exchange 1: stage 1's rows to every shard's stage 2, by key (lot)"),
        "{}",
        plan.explain()
    );
}

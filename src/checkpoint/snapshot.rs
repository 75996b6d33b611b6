//! A stage's operator state as a checkpoint section, and back.
//!
//! A section is the postcard encoding of [`StageState`]: the pipeline's
//! watermarks, its join's state (an interval join's held rows on each side,
//! a lookup join's table, an ASOF join's right history and waiting left
//! rows) and its body's: none for a projection; a GROUP BY's key columns
//! and accumulators, or its open windows of any kind ([`WindowState`]); a
//! Top-N's rows held; a row window's partitions and frames. UNION ALL's
//! other branch is a section of its own inside.

use super::support::StateRouting;
use crate::data::column::ColumnData;
use crate::data::Column;
use crate::exec::accumulator::Accumulator;
use crate::exec::asof_join::AsofState;
use crate::exec::interval_join::IntervalJoinState;
use crate::exec::lookup_join::TableState;
use crate::exec::pipeline::Pipeline;
use crate::exec::row_window::RowWindow;
use crate::exec::window_agg::WindowState;
use crate::sql::plan::JoinKind;
use serde::{Deserialize, Serialize};

/// What a section holds, as written (borrowing the operator's state).
#[derive(Serialize)]
struct StageStateRef<'a> {
    watermarks: [i64; 2],
    body_watermark: i64,
    join: Option<JoinState>,
    body: BodyRef<'a>,
    /// UNION ALL's other branch, encoded as a section of its own.
    union: Option<Vec<u8>>,
}

#[derive(Serialize)]
enum BodyRef<'a> {
    Stateless,
    Groups {
        groups: usize,
        keys: &'a [Column],
        accumulators: &'a [Accumulator],
    },
    Windows(WindowState),
    TopN {
        rows: Vec<Column>,
        len: usize,
        watermark: i64,
    },
    /// A row window's own encoding.
    Rows(Vec<u8>),
}

/// What a section holds, as read.
#[derive(Deserialize)]
pub struct StageState {
    watermarks: [i64; 2],
    body_watermark: i64,
    join: Option<JoinState>,
    body: Body,
    union: Option<Vec<u8>>,
}

#[derive(Deserialize)]
enum Body {
    Stateless,
    Groups {
        groups: usize,
        keys: Vec<Column>,
        accumulators: Vec<Accumulator>,
    },
    Windows(WindowState),
    TopN {
        rows: Vec<Column>,
        len: usize,
        watermark: i64,
    },
    Rows(Vec<u8>),
}

/// A join's state.
#[derive(Serialize, Deserialize)]
enum JoinState {
    Interval(IntervalJoinState),
    Lookup(TableState),
    AsOf(AsofState),
}

/// Which shard owns each of `n` keys (`keys`: one column per key part).
pub type Owner<'a> = dyn Fn(&[Column], usize) -> Vec<u32> + 'a;

const NOT_COVERED: &str = "this operator's state is not checkpointed yet";
const MISFIT: &str = "the checkpoint's operator state does not fit this query";

/// Encodes `pipeline`'s state.
pub fn encode(pipeline: &mut Pipeline) -> Result<Vec<u8>, String> {
    let (watermarks, body_watermark) = pipeline.clocks();
    let union = pipeline.union_mut().map(encode).transpose()?;
    let join = match pipeline.join_kind() {
        None => None,
        Some(JoinKind::Interval) => pipeline
            .interval_join_mut()
            .map(|j| JoinState::Interval(j.state())),
        Some(JoinKind::Lookup) => pipeline
            .lookup_join_mut()
            .map(|j| JoinState::Lookup(j.state())),
        Some(JoinKind::AsOf) => pipeline.asof_join_mut().map(|j| JoinState::AsOf(j.state())),
    };
    let projects = pipeline.projects();
    let windows = pipeline.window_mut().map(|w| w.state());
    let top = pipeline.top_n_mut().map(|t| t.state());
    let rows = pipeline.row_window_mut().map(|r| r.state()).transpose()?;
    let body = match (pipeline.aggregate_mut(), windows) {
        (Some(agg), _) => {
            let groups = agg.groups();
            let (keys, accumulators) = agg.state();
            BodyRef::Groups {
                groups,
                keys,
                accumulators,
            }
        }
        (None, Some(windows)) => BodyRef::Windows(windows),
        (None, None) if rows.is_some() => BodyRef::Rows(rows.unwrap_or_default()),
        (None, None) if top.is_some() => {
            let (rows, len, watermark) = top.unwrap_or_default();
            BodyRef::TopN {
                rows,
                len,
                watermark,
            }
        }
        (None, None) if projects => BodyRef::Stateless,
        (None, None) => return Err(NOT_COVERED.into()),
    };
    let state = StageStateRef {
        watermarks,
        body_watermark,
        join,
        body,
        union,
    };
    postcard::to_stdvec(&state).map_err(|e| e.to_string())
}

/// Decodes a section written by [`encode`].
pub fn decode(section: &[u8]) -> Result<StageState, String> {
    postcard::from_bytes(section).map_err(|e| format!("cannot decode operator state: {e}"))
}

impl StageState {
    /// Merges this state into shard `shard`'s `pipeline`: the groups,
    /// windows and join rows whose owner (by their key) is `shard`. The
    /// watermarks become the smaller of the two (the same on every shard
    /// of one checkpoint: every router's watermark reached every shard
    /// before its barrier).
    /// A lookup join's table that was copied to every shard is restored
    /// whole on every shard; windows routed by key and start are owned so
    /// (see [`StateRouting`]).
    pub fn restore_into(
        self,
        pipeline: &mut Pipeline,
        owner: &Owner<'_>,
        routing: StateRouting,
        shard: usize,
    ) -> Result<(), String> {
        let (marks, body_mark) = pipeline.clocks();
        let (marks, body_mark) = match body_mark == i64::MIN && marks == [i64::MIN; 2] {
            // The first state merged: take it as it is.
            true => (self.watermarks, self.body_watermark),
            false => (
                [
                    marks[0].min(self.watermarks[0]),
                    marks[1].min(self.watermarks[1]),
                ],
                body_mark.min(self.body_watermark),
            ),
        };
        pipeline.set_clocks(marks, body_mark);
        match (self.union, pipeline.union_mut()) {
            (None, None) => {}
            (Some(bytes), Some(branch)) => {
                // Its own inputs' routing; no table of its own to copy.
                let routing = StateRouting::default();
                decode(&bytes)?.restore_into(branch, owner, routing, shard)?;
            }
            _ => return Err(MISFIT.into()),
        }
        match self.join {
            None if pipeline.join_kind().is_none() => {}
            None => return Err(MISFIT.into()),
            Some(JoinState::Interval(state)) => {
                let join = pipeline.interval_join_mut().ok_or(MISFIT)?;
                let left = owner(&state.left.keys, state.left.len());
                let right = owner(&state.right.keys, state.right.len());
                join.restore(&state, [&left, &right], shard);
            }
            Some(JoinState::Lookup(table)) => {
                let join = pipeline.lookup_join_mut().ok_or(MISFIT)?;
                let owners = match routing.broadcast_table {
                    true => vec![shard as u32; table.len()],
                    false => owner(&table.keys, table.len()),
                };
                join.restore(&table, &owners, shard);
            }
            Some(JoinState::AsOf(state)) => {
                let join = pipeline.asof_join_mut().ok_or(MISFIT)?;
                let right = owner(&state.right_keys, state.right_times.len());
                let waiting =
                    crate::data::Batch::new(state.waiting.clone(), state.waiting_times.len());
                let left = owner(&join.left_key_columns(&waiting), waiting.len);
                join.restore(&state, &right, &left, shard);
            }
        }
        match self.body {
            Body::Stateless if pipeline.projects() => Ok(()),
            Body::Windows(state) => {
                let w = pipeline.window_mut().ok_or(MISFIT)?;
                let owners = match routing.window_in_key {
                    true => {
                        let mut keys = state.keys.clone();
                        keys.push(Column {
                            data: ColumnData::Timestamp(state.starts.clone()),
                            validity: None,
                        });
                        owner(&keys, state.len())
                    }
                    false => owner(&state.keys, state.len()),
                };
                w.restore(state, &owners, shard);
                Ok(())
            }
            Body::Groups {
                groups,
                keys,
                accumulators,
            } => {
                let agg = pipeline.aggregate_mut().ok_or(MISFIT)?;
                let owners = owner(&keys, groups);
                agg.restore(keys, accumulators, owners, shard);
                Ok(())
            }
            Body::TopN {
                rows,
                len,
                watermark,
            } => {
                let top = pipeline.top_n_mut().ok_or(MISFIT)?;
                let rows = crate::data::Batch::new(rows, len);
                let owners = owner(&top.partition_keys(&rows), len);
                let mine = crate::exec::hash::rows_of_shard(&owners, shard);
                top.restore(&rows.gather(&mine), watermark);
                Ok(())
            }
            Body::Rows(bytes) => {
                let (keys, n) = RowWindow::state_keys(&bytes)?;
                let owners = owner(&keys, n);
                let rows = pipeline.row_window_mut().ok_or(MISFIT)?;
                rows.restore(&bytes, &owners, shard)
            }
            Body::Stateless => Err(MISFIT.into()),
        }
    }
}

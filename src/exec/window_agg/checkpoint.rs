//! A windowed GROUP BY's state in a checkpoint: its open windows, and back.
//!
//! The state is one row per open window (a session too): its key, start
//! and end, and its accumulators; slots, the closing queue, each key's open
//! sessions and the recent-windows cache are rebuilt on restore.

use super::{KeySessions, WindowAggregate};
use crate::data::Column;
use crate::exec::accumulator::Accumulator;
use crate::exec::hash::rows_of_shard;
use crate::exec::hash_agg::accumulators;
use serde::{Deserialize, Serialize};

/// The open windows of one shard (or of several, merged).
#[derive(Debug, Serialize, Deserialize)]
pub struct WindowState {
    /// The key of each open window, one column per GROUP BY key.
    pub keys: Vec<Column>,
    pub starts: Vec<i64>,
    pub ends: Vec<i64>,
    /// One accumulator per aggregate, one group per open window.
    pub accumulators: Vec<Accumulator>,
    pub watermark: i64,
}

impl WindowState {
    /// Open windows held.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

impl WindowAggregate {
    /// The open windows, for a checkpoint (see the module docs).
    pub fn state(&self) -> WindowState {
        let live: Vec<u32> = (0..self.slot_key.len() as u32)
            .filter(|&s| self.slot_live[s as usize])
            .collect();
        let key_ids: Vec<u32> = live.iter().map(|&s| self.slot_key[s as usize]).collect();
        let keys = self
            .keys
            .keys()
            .iter()
            .map(|c| c.gather(&key_ids))
            .collect();
        let into: Vec<u32> = (0..live.len() as u32).collect();
        let mut accs = accumulators(&self.plan);
        for (acc, from) in accs.iter_mut().zip(&self.accumulators) {
            acc.resize(live.len());
            acc.merge_from(from, &live, &into);
        }
        WindowState {
            keys,
            starts: live.iter().map(|&s| self.slot_start[s as usize]).collect(),
            ends: live.iter().map(|&s| self.slot_end[s as usize]).collect(),
            accumulators: accs,
            watermark: self.watermark,
        }
    }

    /// Opens the windows of `state` whose owner (per window) is `shard`,
    /// merging into windows open already. The watermark becomes the
    /// smaller of the two (see [`crate::checkpoint::snapshot`]).
    pub fn restore(&mut self, state: WindowState, owner: &[u32], shard: usize) {
        self.watermark = match self.watermark {
            i64::MIN => state.watermark,
            w => w.min(state.watermark),
        };
        let from = rows_of_shard(owner, shard);
        if from.is_empty() {
            return;
        }
        let mut key_ids = Vec::new();
        self.keys
            .find_or_insert_rows(&state.keys, &from, &mut key_ids);
        let sessions = matches!(self.spec.kind, crate::sql::plan::WindowKind::Session { .. });
        if sessions && self.sessions.len() < self.keys.len() {
            self.sessions
                .resize_with(self.keys.len(), KeySessions::default);
        }
        let slots: Vec<u32> = from
            .iter()
            .zip(&key_ids)
            .map(|(&w, &key)| {
                let (start, end) = (state.starts[w as usize], state.ends[w as usize]);
                if !sessions {
                    return self.slot(key, start, end);
                }
                let s = self.allocate(key, start, end);
                self.sessions[key as usize].open.push(s);
                self.find_latest(key);
                s
            })
            .collect();
        self.cover_slots(self.slot_key.len());
        for (acc, saved) in self.accumulators.iter_mut().zip(&state.accumulators) {
            acc.merge_from(saved, &from, &slots);
        }
    }
}

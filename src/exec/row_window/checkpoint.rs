//! A row window's state in a checkpoint: each partition's key, row count,
//! frames and rows waiting for their LEAD values, the rows held to be
//! sorted with their partition keys, and back.

use super::{Partition, RowWindow};
use crate::data::{Batch, Column};
use crate::exec::hash::rows_of_shard;
use std::borrow::Cow;

/// What a checkpoint section holds (written borrowing, read owned; the
/// same encoding).
#[derive(serde::Serialize)]
struct StateRef<'a> {
    keys: &'a [Column],
    partitions: &'a [Partition],
    held: &'a [Column],
    held_keys: Vec<Column>,
    held_len: usize,
}

#[derive(serde::Deserialize)]
struct State {
    keys: Vec<Column>,
    partitions: Vec<Partition>,
    held: Vec<Column>,
    held_keys: Vec<Column>,
    held_len: usize,
}

impl RowWindow {
    /// Every partition's state, encoded for a checkpoint.
    pub fn state(&self) -> Result<Vec<u8>, String> {
        let held = self.sorted.as_ref().map(|s| s.held());
        let held_keys = held.map_or(Vec::new(), |rows| {
            let keys = self.plan.partition.iter().map(|k| k.eval(rows));
            keys.map(Cow::into_owned).collect()
        });
        let state = StateRef {
            keys: self.partitions.keys(),
            partitions: &self.states,
            held: held.map_or(&[], |rows| &rows.columns),
            held_keys,
            held_len: held.map_or(0, |rows| rows.len),
        };
        postcard::to_stdvec(&state).map_err(|e| e.to_string())
    }

    /// The partition keys of encoded `state` (which shard owns each): the
    /// partitions', then the held rows'; and how many there are.
    pub fn state_keys(state: &[u8]) -> Result<(Vec<Column>, usize), String> {
        let s: State = postcard::from_bytes(state).map_err(|e| e.to_string())?;
        let n = s.partitions.len() + s.held_len;
        let mut keys = s.keys;
        for (key, held) in keys.iter_mut().zip(&s.held_keys) {
            let all: Vec<u32> = (0..s.held_len as u32).collect();
            key.extend_from_rows(held, &all);
        }
        Ok((keys, n))
    }

    /// Takes the partitions and held rows of encoded `state` whose owner is
    /// `shard` (`owner` as [`state_keys`](Self::state_keys) orders them).
    pub fn restore(&mut self, state: &[u8], owner: &[u32], shard: usize) -> Result<(), String> {
        let s: State = postcard::from_bytes(state).map_err(|e| e.to_string())?;
        let parts = s.partitions.len() as u32;
        let (from, held): (Vec<u32>, Vec<u32>) = rows_of_shard(owner, shard)
            .into_iter()
            .partition(|&i| i < parts);
        if !held.is_empty() {
            let sorted = self
                .sorted
                .as_mut()
                .ok_or("held rows, but the plan sorts none")?;
            let rows = Batch::new(s.held, s.held_len);
            let mine: Vec<u32> = held.iter().map(|i| i - parts).collect();
            sorted.hold(&rows.gather(&mine));
        }
        if from.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::new();
        self.partitions
            .find_or_insert_rows(&s.keys, &from, &mut ids);
        let mut partitions: Vec<Option<Partition>> = s.partitions.into_iter().map(Some).collect();
        for (&p, &id) in from.iter().zip(&ids) {
            let partition = partitions[p as usize].take().ok_or("a partition twice")?;
            match (id as usize).cmp(&self.states.len()) {
                std::cmp::Ordering::Less => self.states[id as usize] = partition,
                std::cmp::Ordering::Equal => self.states.push(partition),
                std::cmp::Ordering::Greater => return Err("partition ids out of order".into()),
            }
        }
        Ok(())
    }
}

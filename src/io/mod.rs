//! Sources and sinks, one per format or transport.

pub mod generator;
pub mod late;
pub mod parse;
pub mod sink;
pub mod source;
pub mod text;

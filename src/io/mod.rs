//! Sources and sinks, one per format or transport.

pub mod columnar;
pub mod counted;
pub mod generator;
pub mod json;
pub mod kafka;
pub mod late;
pub mod lines;
pub mod nexmark;
pub mod parse;
pub mod push;
pub mod quotes;
pub mod reject;
pub mod scan;
pub mod side_files;
pub mod sink;
pub mod source;
pub mod split;
pub mod stale_parts;
pub mod tcp;
pub mod text;

//! A shard's state file: corestream's own versioned format.
//!
//! ```text
//! magic "CSSTATE\n" | format version u32 | sections u32
//! | header length u32 | header CRC-32 u32 | header (JSON)
//! then per section: id u32 | length u64 | CRC-32 u32 | payload
//! ```
//! All integers are little-endian. The header says which hash function
//! routed the keys ([`HASH_ID`](crate::exec::hash::HASH_ID)), the plan's
//! fingerprint and the shard; a section is one stage's operator state
//! (postcard-encoded, see [`crate::checkpoint::snapshot`]). Reading checks
//! every length and checksum, so a torn or corrupt file is an error, never
//! a panic or wrong state.

use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"CSSTATE\n";
/// Bumped when the layout or a section's encoding changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// What a state file says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub hash_id: String,
    pub fingerprint: String,
    pub shard: usize,
    pub epoch: u64,
}

/// Encodes a state file: `sections[k]` is section `k`'s payload.
pub fn encode(header: &Header, sections: &[Vec<u8>]) -> Vec<u8> {
    let head = serde_json::to_vec(header).unwrap_or_default();
    let body: usize = sections.iter().map(|s| s.len() + 16).sum();
    let mut out = Vec::with_capacity(16 + head.len() + body);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&head).to_le_bytes());
    out.extend_from_slice(&head);
    for (id, payload) in sections.iter().enumerate() {
        out.extend_from_slice(&(id as u32).to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// Decodes a state file written by [`encode`]: its header and sections.
/// Fails (with what is wrong) on a bad magic or version, a short file, or a
/// checksum mismatch.
pub fn decode(bytes: &[u8]) -> Result<(Header, Vec<&[u8]>), String> {
    let mut at = Reader { bytes, at: 0 };
    if at.take(MAGIC.len())? != MAGIC {
        return Err("not a corestream state file".into());
    }
    let version = at.u32()?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "state format version {version}; this build reads version {FORMAT_VERSION}"
        ));
    }
    let count = at.u32()? as usize;
    let head_len = at.u32()? as usize;
    let head_crc = at.u32()?;
    let head = at.take(head_len)?;
    if crc32fast::hash(head) != head_crc {
        return Err("header: checksum mismatch".into());
    }
    let header: Header = serde_json::from_slice(head).map_err(|e| format!("bad header: {e}"))?;
    let mut sections = Vec::new();
    while sections.len() < count {
        let id = at.u32()? as usize;
        if id != sections.len() {
            return Err(format!("section {id} out of order"));
        }
        let len = usize::try_from(at.u64()?).map_err(|_| "section too long".to_string())?;
        let crc = at.u32()?;
        let payload = at.take(len)?;
        if crc32fast::hash(payload) != crc {
            return Err(format!("section {id}: checksum mismatch"));
        }
        sections.push(payload);
    }
    if at.at != bytes.len() {
        return Err(format!(
            "{} bytes after the last section",
            bytes.len() - at.at
        ));
    }
    Ok((header, sections))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.bytes.len()))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            hash_id: "h".into(),
            fingerprint: "f".into(),
            shard: 1,
            epoch: 7,
        }
    }

    #[test]
    fn round_trips_and_detects_every_corruption() {
        let sections = vec![b"first".to_vec(), Vec::new(), vec![7u8; 1000]];
        let bytes = encode(&header(), &sections);
        let (h, s) = decode(&bytes).unwrap();
        assert_eq!(h, header());
        assert_eq!(s, sections.iter().map(Vec::as_slice).collect::<Vec<_>>());
        // Every truncation and every flipped byte is caught.
        for cut in 0..bytes.len() {
            let torn = &bytes[..cut];
            if let Ok((_, s)) = decode(torn) {
                panic!("a file cut at {cut} decoded to {} sections", s.len());
            }
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            let ok = decode(&bad).is_ok_and(|(h, s)| {
                h == header() && s == sections.iter().map(Vec::as_slice).collect::<Vec<_>>()
            });
            assert!(!ok, "a flip at byte {i} went unnoticed");
        }
    }
}

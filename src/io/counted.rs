//! A buffered reader that counts the bytes its user has consumed: where a
//! file source stands, for checkpoints (see [`crate::checkpoint`]).

use std::io::{self, BufRead, BufReader, Read};

/// A [`BufReader`] that counts what was consumed (read, or passed over with
/// [`BufRead::consume`]), not what it buffered ahead.
pub struct CountedReader {
    inner: BufReader<Box<dyn Read + Send>>,
    consumed: u64,
}

impl CountedReader {
    pub fn new(capacity: usize, reader: Box<dyn Read + Send>) -> CountedReader {
        CountedReader {
            inner: BufReader::with_capacity(capacity, reader),
            consumed: 0,
        }
    }

    /// Bytes consumed since the start.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The bytes buffered and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        self.inner.buffer()
    }
}

impl super::lines::Buffered for CountedReader {
    fn buffered(&self) -> &[u8] {
        self.inner.buffer()
    }
}

impl Read for CountedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl BufRead for CountedReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.consumed += amount as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_was_consumed_not_what_was_buffered() {
        let mut r = CountedReader::new(4, Box::new(io::Cursor::new(b"abcdefghij".to_vec())));
        assert_eq!(r.fill_buf().unwrap(), b"abcd");
        r.consume(3);
        assert_eq!(r.consumed(), 3);
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"de");
        assert_eq!(r.consumed(), 5);
    }
}

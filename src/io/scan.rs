//! Finding the field and line ends of simple CSV lines, 64 bytes at a time.
//!
//! A [`Finder`] turns a 64-byte block into two bitmasks, its newlines and its
//! delimiters (bit `i` for byte `i`); [`Blocks`] runs one over a buffer, and
//! [`Marks`] walks the set bits with `trailing_zeros`, yielding every position
//! of the delimiter or a newline in order. A 15-byte line costs a quarter of a
//! block and two bit steps, with no compare and branch per byte. This is the
//! first stage of simdjson (Langdale and Lemire, "Parsing gigabytes of JSON per
//! second", <https://arxiv.org/abs/1902.08318>) without the quote handling.
//!
//! Four finders, all exact (no false positives, no missed byte):
//! - [`Avx512`]: one 64-byte compare per byte value, straight into a mask,
//!   and the marks' positions written 16 at a time by a compress
//!   (AVX-512 VBMI2) instead of a bit step each; on x86_64 CPUs that have
//!   it, detected at run time by [`Scanner::detect`];
//! - [`Avx2`]: two 32-byte compares per byte value; likewise;
//! - [`Sse2`]: four 16-byte compares; baseline on x86_64, so always there;
//! - [`Swar`]: a machine word at a time with bit arithmetic; other targets.
//!
//! # Running with the CPU's finder
//! Vector compares inline only into a function compiled for their feature.
//! [`Scanner::run`] hands a [`Finder`] to a [`WithFinder`] inside a function
//! with `#[target_feature(enable = "avx2")]` (or none, for the baseline
//! finders), so the caller's whole loop is compiled for that feature and the
//! compares inline into it: pulp's `WithSimd` and memchr's entry points do the
//! same. The CPU is asked once, when a [`Scanner`] is made; an [`Avx2`] or
//! [`Avx512`] finder can only be made from a [`Scanner`] that found its
//! features.
//!
//! # Invariants
//! No load reads outside the buffer: whole blocks are read as `&[u8; 64]`,
//! and the last, shorter one from a zeroed copy whose extra bits are cleared.

/// Bytes per block: one bit per byte in a `u64`.
pub const BLOCK: usize = 64;

/// Finds the newlines and delimiters of a 64-byte block.
pub trait Finder: Copy {
    /// The newlines and the delimiters of `block`: bit `i` of each is set
    /// when byte `i` is one.
    fn find(self, block: &[u8; BLOCK]) -> (u64, u64);

    /// Writes `after + i` for each set bit `i` of `marks`, lowest first,
    /// to the start of `window`, and returns how many there are. Entries
    /// past those may be overwritten with junk (the next block's marks go
    /// there).
    ///
    /// By default, one bit step a mark. The first 16 are written whether
    /// they are there or not, so that the loop has no exit to predict for
    /// blocks of up to 16 marks.
    #[inline(always)]
    fn write_marks(self, window: &mut [u32; BLOCK], marks: u64, after: u32) -> usize {
        const UNCONDITIONAL: usize = 16;
        let count = marks.count_ones() as usize;
        let mut rest = marks;
        for slot in &mut window[..UNCONDITIONAL] {
            *slot = after + rest.trailing_zeros();
            rest &= rest.wrapping_sub(1);
        }
        if count > UNCONDITIONAL {
            for slot in &mut window[UNCONDITIONAL..count] {
                *slot = after + rest.trailing_zeros();
                rest &= rest - 1;
            }
        }
        count
    }
}

/// Code generic over the [`Finder`], run by [`Scanner::run`].
pub trait WithFinder {
    type Output;
    /// Runs with `finder`. Mark the impl `#[inline(always)]`: then it is
    /// compiled into [`Scanner::run`]'s feature-enabled function, finder
    /// and all.
    fn with<F: Finder>(self, finder: F) -> Self::Output;
}

/// Which finder to use: the best the CPU has ([`Scanner::detect`]), or any
/// other it has ([`Scanner::all`], for tests and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanner {
    Swar,
    #[cfg(target_arch = "x86_64")]
    Sse2,
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2Detected),
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512Detected),
}

/// Proof that the CPU has AVX2, and the bit instructions that came with it
/// (BMI1, BMI2, POPCNT): made only after `is_x86_feature_detected!` said so.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx2Detected(());

/// Proof that the CPU has what [`Avx2Detected`] proves and AVX-512 F, BW
/// and VBMI2 (64-byte compares into a mask, and byte compress): made only
/// after `is_x86_feature_detected!` said so.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx512Detected(());

impl Scanner {
    /// The fastest finder this CPU has. Asks the CPU (std caches the
    /// answer); keep the result rather than calling this per block.
    pub fn detect() -> Scanner {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("bmi1") && has!("bmi2") && has!("popcnt");
            let avx512 = has!("avx512f") && has!("avx512bw") && has!("avx512vbmi2");
            match (avx2, avx512) {
                (true, true) => Scanner::Avx512(Avx512Detected(())),
                (true, false) => Scanner::Avx2(Avx2Detected(())),
                _ => Scanner::Sse2,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Scanner::Swar
    }

    /// Every finder this CPU can run, the fallback first.
    pub fn all() -> Vec<Scanner> {
        #[cfg(target_arch = "x86_64")]
        {
            let mut all = vec![Scanner::Swar, Scanner::Sse2];
            match Scanner::detect() {
                Scanner::Avx2(detected) => all.push(Scanner::Avx2(detected)),
                Scanner::Avx512(detected) => {
                    // What AVX-512 proves includes what AVX2 needs.
                    all.push(Scanner::Avx2(Avx2Detected(())));
                    all.push(Scanner::Avx512(detected));
                }
                _ => {}
            }
            all
        }
        #[cfg(not(target_arch = "x86_64"))]
        vec![Scanner::Swar]
    }

    /// Runs `work` with this scanner's finder for `delimiter`, compiled for
    /// the finder's CPU feature.
    #[inline]
    pub fn run<W: WithFinder>(self, delimiter: u8, work: W) -> W::Output {
        match self {
            Scanner::Swar => work.with(Swar { delimiter }),
            #[cfg(target_arch = "x86_64")]
            Scanner::Sse2 => work.with(Sse2 { delimiter }),
            #[cfg(target_arch = "x86_64")]
            Scanner::Avx2(detected) => {
                // SAFETY: `detected` exists, so the CPU has AVX2, BMI1,
                // BMI2 and POPCNT.
                unsafe {
                    run_avx2(
                        Avx2 {
                            delimiter,
                            _detected: detected,
                        },
                        work,
                    )
                }
            }
            #[cfg(target_arch = "x86_64")]
            Scanner::Avx512(detected) => {
                // SAFETY: `detected` exists, so the CPU has AVX-512 F, BW
                // and VBMI2, AVX2, BMI1, BMI2 and POPCNT.
                unsafe {
                    run_avx512(
                        Avx512 {
                            delimiter,
                            _detected: detected,
                        },
                        work,
                    )
                }
            }
        }
    }
}

/// Runs `work` compiled with AVX2 enabled, so that `finder`'s compares
/// inline into it; and BMI1, BMI2 and POPCNT, so that bit loops over its
/// masks get one instruction for `trailing_zeros`, clearing the lowest bit,
/// a variable shift and `count_ones`.
///
/// # Safety
/// The CPU must have those features (which `finder` proves: taking it as an
/// argument keeps the call sound by construction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
unsafe fn run_avx2<W: WithFinder>(finder: Avx2, work: W) -> W::Output {
    work.with(finder)
}

/// Runs `work` compiled with AVX-512 F, BW and VBMI2 enabled as well as
/// what [`run_avx2`] enables, so that `finder`'s compares and compresses
/// inline into it.
///
/// # Safety
/// The CPU must have those features (which `finder` proves).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,avx2,bmi1,bmi2,popcnt")]
unsafe fn run_avx512<W: WithFinder>(finder: Avx512, work: W) -> W::Output {
    work.with(finder)
}

/// The finder for code that does not go through [`Scanner::run`]: the best
/// one that needs no run-time check.
#[cfg(target_arch = "x86_64")]
pub type Native = Sse2;
#[cfg(not(target_arch = "x86_64"))]
pub type Native = Swar;

/// A machine word at a time, for any target.
#[derive(Debug, Clone, Copy)]
pub struct Swar {
    delimiter: u8,
}

impl Swar {
    pub fn new(delimiter: u8) -> Swar {
        Swar { delimiter }
    }
}

/// Eight copies of `byte`.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

const LOW7: u64 = splat(0x7f);

/// The high bit of every byte of `word` that is zero, and no other bit.
///
/// Exact: adding 0x7f to the low seven bits of a byte sets its high bit
/// unless they are all zero, and the byte's own high bit is or-ed in; no
/// carry crosses a byte, since the sum of two 7-bit values fits in 8 bits.
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    !(((word & LOW7).wrapping_add(LOW7)) | word | LOW7)
}

/// Bit `i` for the high bit of byte `i` of `high`, which has no other bits.
///
/// After the shift the bits sit at `8i`; the multiplier has bits at
/// `56 - 7j`, so bit `8i` lands at `56 + i` when `j = i`. Every other pair
/// lands below 56 (`i < j`) or at 64 and above (`i > j`, dropped), and no two
/// pairs land on the same bit (`8i - 7j` is distinct for distinct pairs), so
/// nothing carries.
#[inline(always)]
fn high_bits(high: u64) -> u64 {
    (high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

impl Finder for Swar {
    #[inline(always)]
    fn find(self, block: &[u8; BLOCK]) -> (u64, u64) {
        let (mut newlines, mut delimiters) = (0, 0);
        for (i, word) in block.chunks_exact(8).enumerate() {
            let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            newlines |= high_bits(zero_bytes(word ^ splat(b'\n'))) << (8 * i);
            delimiters |= high_bits(zero_bytes(word ^ splat(self.delimiter))) << (8 * i);
        }
        (newlines, delimiters)
    }
}

/// SSE2, 16 bytes at a time: baseline on x86_64.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub struct Sse2 {
    delimiter: u8,
}

#[cfg(target_arch = "x86_64")]
impl Sse2 {
    pub fn new(delimiter: u8) -> Sse2 {
        Sse2 { delimiter }
    }
}

#[cfg(target_arch = "x86_64")]
impl Finder for Sse2 {
    #[inline(always)]
    fn find(self, block: &[u8; BLOCK]) -> (u64, u64) {
        use std::arch::x86_64::*;
        let (mut newlines, mut delimiters) = (0, 0);
        for (i, part) in block.chunks_exact(16).enumerate() {
            // SAFETY: x86_64 always has SSE2 (it is in the target's baseline
            // features); `part` is 16 bytes, all read by the unaligned load.
            let (n, d) = unsafe {
                let v = _mm_loadu_si128(part.as_ptr().cast());
                (
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8))),
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(self.delimiter as i8))),
                )
            };
            // A movemask of 16 bytes sets only the low 16 bits.
            newlines |= u64::from(n as u16) << (16 * i);
            delimiters |= u64::from(d as u16) << (16 * i);
        }
        (newlines, delimiters)
    }
}

/// AVX2, 32 bytes at a time; made only by [`Scanner::run`] on a CPU that has
/// it.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub struct Avx2 {
    delimiter: u8,
    /// Why this finder may run: the CPU has AVX2.
    _detected: Avx2Detected,
}

#[cfg(target_arch = "x86_64")]
impl Finder for Avx2 {
    #[inline(always)]
    fn find(self, block: &[u8; BLOCK]) -> (u64, u64) {
        use std::arch::x86_64::*;
        let (mut newlines, mut delimiters) = (0, 0);
        for (i, part) in block.chunks_exact(32).enumerate() {
            // SAFETY: the CPU has AVX2 (`self._detected` exists); `part` is
            // 32 bytes, all read by the unaligned load.
            let (n, d) = unsafe {
                let v = _mm256_loadu_si256(part.as_ptr().cast());
                (
                    _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\n' as i8))),
                    _mm256_movemask_epi8(_mm256_cmpeq_epi8(
                        v,
                        _mm256_set1_epi8(self.delimiter as i8),
                    )),
                )
            };
            newlines |= u64::from(n as u32) << (32 * i);
            delimiters |= u64::from(d as u32) << (32 * i);
        }
        (newlines, delimiters)
    }
}

/// AVX-512, the whole block at once; made only by [`Scanner::run`] on a CPU
/// that has it.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub struct Avx512 {
    delimiter: u8,
    /// Why this finder may run: the CPU has AVX-512 F, BW and VBMI2.
    _detected: Avx512Detected,
}

/// The bytes 0 to 63: compressed by a block's marks, the marks' offsets.
#[cfg(target_arch = "x86_64")]
static OFFSETS: [u8; BLOCK] = {
    let mut offsets = [0; BLOCK];
    let mut i = 0;
    while i < BLOCK {
        offsets[i] = i as u8;
        i += 1;
    }
    offsets
};

#[cfg(target_arch = "x86_64")]
impl Finder for Avx512 {
    #[inline(always)]
    fn find(self, block: &[u8; BLOCK]) -> (u64, u64) {
        use std::arch::x86_64::*;
        // SAFETY: the CPU has AVX-512 F and BW (`self._detected` exists);
        // `block` is 64 bytes, all read by the unaligned load.
        unsafe {
            let v = _mm512_loadu_si512(block.as_ptr().cast());
            (
                _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\n' as i8)),
                _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(self.delimiter as i8)),
            )
        }
    }

    /// The offsets of the marks, packed to the front of a vector by one
    /// compress, then widened to `u32` and stored 16 at a time: the first
    /// 16 always, the rest only in a block with more (a branch that lines
    /// of two fields and 8 bytes or more seldom take).
    #[inline(always)]
    fn write_marks(self, window: &mut [u32; BLOCK], marks: u64, after: u32) -> usize {
        use std::arch::x86_64::*;
        let count = marks.count_ones() as usize;
        // SAFETY: the CPU has AVX-512 F, BW and VBMI2 (`self._detected`
        // exists). `OFFSETS` is 64 bytes, all read by the unaligned load.
        // Each store writes 16 `u32`s (64 bytes) at `window[16 * k]` for
        // `k` below 4: inside the 64 entries of `window`.
        unsafe {
            let offsets = _mm512_loadu_si512(OFFSETS.as_ptr().cast());
            let packed = _mm512_maskz_compress_epi8(marks, offsets);
            let after = _mm512_set1_epi32(after as i32);
            let to = window.as_mut_ptr();
            let quarter = |q: __m128i| _mm512_add_epi32(_mm512_cvtepu8_epi32(q), after);
            _mm512_storeu_si512(to.cast(), quarter(_mm512_castsi512_si128(packed)));
            if count > 16 {
                let q1 = _mm512_extracti32x4_epi32::<1>(packed);
                _mm512_storeu_si512(to.add(16).cast(), quarter(q1));
                if count > 32 {
                    let q2 = _mm512_extracti32x4_epi32::<2>(packed);
                    let q3 = _mm512_extracti32x4_epi32::<3>(packed);
                    _mm512_storeu_si512(to.add(32).cast(), quarter(q2));
                    _mm512_storeu_si512(to.add(48).cast(), quarter(q3));
                }
            }
        }
        count
    }
}

/// The newlines and delimiters of the block at `at`: bit `i` is byte `at + i`.
/// The bits past the buffer's end are clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub at: usize,
    pub newlines: u64,
    pub delimiters: u64,
}

/// The [`Block`]s of a buffer, in order.
pub struct Blocks<'a, F> {
    bytes: &'a [u8],
    /// The start of the next block; past the end when done.
    at: usize,
    finder: F,
}

impl<'a, F: Finder> Blocks<'a, F> {
    pub fn new(bytes: &'a [u8], finder: F) -> Blocks<'a, F> {
        Blocks {
            bytes,
            at: 0,
            finder,
        }
    }
}

impl<F: Finder> Iterator for Blocks<'_, F> {
    type Item = Block;

    #[inline(always)]
    fn next(&mut self) -> Option<Block> {
        let at = self.at;
        let rest = self.bytes.get(at..)?;
        let (newlines, delimiters) = match rest.first_chunk::<BLOCK>() {
            Some(block) => self.finder.find(block),
            None if rest.is_empty() => return None,
            None => {
                // The last bytes, zero-padded; the padding's bits cleared
                // (it may be the delimiter).
                let mut block = [0; BLOCK];
                block[..rest.len()].copy_from_slice(rest);
                let (newlines, delimiters) = self.finder.find(&block);
                let real = (1 << rest.len()) - 1;
                (newlines & real, delimiters & real)
            }
        };
        self.at = at + BLOCK;
        Some(Block {
            at,
            newlines,
            delimiters,
        })
    }
}

/// The positions of `delimiter` and `\n` in a buffer, in order.
pub struct Marks<'a, F: Finder = Native> {
    blocks: Blocks<'a, F>,
    /// The start of the block `pending` was found in.
    at: usize,
    /// The matches of that block not yet returned.
    pending: u64,
}

impl<'a> Marks<'a> {
    pub fn new(bytes: &'a [u8], delimiter: u8) -> Marks<'a> {
        Marks::with(bytes, Native::new(delimiter))
    }
}

impl<'a, F: Finder> Marks<'a, F> {
    pub fn with(bytes: &'a [u8], finder: F) -> Marks<'a, F> {
        Marks {
            blocks: Blocks::new(bytes, finder),
            at: 0,
            pending: 0,
        }
    }
}

impl<F: Finder> Iterator for Marks<'_, F> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.pending == 0 {
            let block = self.blocks.next()?;
            self.at = block.at;
            self.pending = block.newlines | block.delimiters;
        }
        let bit = self.pending.trailing_zeros() as usize;
        self.pending &= self.pending - 1;
        Some(self.at + bit)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn naive(bytes: &[u8], delimiter: u8) -> Vec<usize> {
        (0..bytes.len())
            .filter(|&i| bytes[i] == delimiter || bytes[i] == b'\n')
            .collect()
    }

    /// The marks of `bytes` by each finder this CPU has, run as the scan
    /// runs them.
    fn marks_by_all(bytes: &[u8], delimiter: u8) -> Vec<(Scanner, Vec<usize>)> {
        struct Collect<'a>(&'a [u8]);
        impl WithFinder for Collect<'_> {
            type Output = Vec<usize>;
            #[inline(always)]
            fn with<F: Finder>(self, finder: F) -> Vec<usize> {
                Marks::with(self.0, finder).collect()
            }
        }
        Scanner::all()
            .into_iter()
            .map(|s| (s, s.run(delimiter, Collect(bytes))))
            .collect()
    }

    fn check(bytes: &[u8], delimiter: u8, what: &str) {
        let expected = naive(bytes, delimiter);
        assert_eq!(
            Marks::new(bytes, delimiter).collect::<Vec<_>>(),
            expected,
            "{what}"
        );
        for (scanner, marks) in marks_by_all(bytes, delimiter) {
            assert_eq!(marks, expected, "{what}, {scanner:?}");
        }
    }

    #[test]
    fn the_fallback_is_always_there() {
        let all = Scanner::all();
        assert_eq!(all[0], Scanner::Swar);
        assert!(all.contains(&Scanner::detect()));
    }

    #[test]
    fn finds_every_delimiter_and_newline_in_order() {
        let text = b"Hamburg;12.0\nBulawayo;8.9\n\nSt. John's;-1.5\n;\n;;x\n";
        for len in 0..=text.len() {
            for delimiter in [b';', b',', b'\t', 0, 0x80, 0xff] {
                check(
                    &text[..len],
                    delimiter,
                    &format!("{len} bytes, delimiter {delimiter}"),
                );
            }
        }
    }

    #[test]
    fn every_byte_value_next_to_a_match() {
        // Exactness: no byte value is taken for a newline or delimiter,
        // wherever it sits in a word or vector (carries could cross bytes in
        // the word arithmetic; signed compares could go wrong in vectors).
        for b in 0..=255u8 {
            let bytes = [b, b'\n', b, b, b';', b, 0x80, b, b, b'\n', 0x7f, b];
            check(&bytes, b';', &format!("byte {b}"));
            if cfg!(miri) && b % 16 != 1 {
                continue;
            }
            // And at every offset of a block, across block borders.
            let mut long = vec![b; 3 * BLOCK + 5];
            for at in (0..long.len()).step_by(7) {
                long[at] = if at % 2 == 0 { b'\n' } else { b';' };
            }
            check(&long, b';', &format!("byte {b}, long"));
        }
    }

    #[test]
    fn high_bits_gathers_one_bit_per_byte() {
        for bits in [0u8, 1, 0x80, 0x55, 0xaa, 0xff, 0x3c] {
            let high = (0..8)
                .filter(|i| bits >> i & 1 == 1)
                .fold(0u64, |w, i| w | 0x80 << (8 * i));
            assert_eq!(high_bits(high), u64::from(bits), "{bits:#x}");
        }
    }

    /// A small fixed generator, so the test needs no crate and a failure
    /// is the same on every run (xorshift64*).
    pub(crate) struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn random_buffers_of_every_length_and_alignment() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let lengths = if cfg!(miri) { 0..70 } else { 0..200 };
        let densities: &[u64] = if cfg!(miri) {
            &[0, 8, 64]
        } else {
            &[0, 1, 4, 8, 16, 32, 64]
        };
        let mut backing = vec![0u8; 200 + BLOCK];
        for len in lengths {
            for &density in densities {
                // Matches at about `density` in 64 bytes, other bytes any
                // value; the first and last bytes and those around block
                // borders get extra matches.
                for b in backing.iter_mut() {
                    *b = match rng.next() % 64 {
                        x if x < density / 2 => b'\n',
                        x if x < density => b';',
                        _ => rng.next() as u8,
                    };
                }
                let align_step = if cfg!(miri) { 13 } else { 1 };
                for align in (0..BLOCK).step_by(align_step) {
                    let bytes = &mut backing[align..align + len];
                    if len > 0 && density > 0 {
                        bytes[len - 1] = b'\n';
                        for border in [31, 32, 63, 64, 127, 128] {
                            if border < len && rng.next().is_multiple_of(2) {
                                bytes[border] = b';';
                            }
                        }
                    }
                    check(
                        bytes,
                        b';',
                        &format!("{len} bytes, density {density}, align {align}"),
                    );
                }
            }
        }
    }
}

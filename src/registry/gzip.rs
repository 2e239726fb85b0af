//! Parallel gzip, the way pigz does it: the input is cut into blocks, each block is deflated
//! on its own thread (with the previous block's last 32 KiB as a preset dictionary, so the
//! ratio stays close to one stream's), and the pieces are put back in order behind one gzip
//! header and one trailer.
//!
//! Why this is a valid gzip stream: every block but the last ends with a sync flush, which
//! closes the deflate data on a byte boundary without marking it final, so the compressed
//! blocks simply concatenate; the last block is finished (BFINAL). The trailer's CRC-32 is
//! combined from the blocks' own CRCs, so no thread has to see all the data.
//!
//! Memory is bounded by the caller: it decides how many blocks are in flight.

use flate2::{Compress, Compression, FlushCompress, Status};

/// How much input one block holds. Large enough that the per-block cost (a compressor, a
/// flush marker) is noise, small enough that two cores get work on a small layer.
pub const BLOCK: usize = 1024 * 1024;
/// The window deflate can refer back to, carried from one block to the next.
pub const DICTIONARY: usize = 32 * 1024;

/// The fixed gzip header: deflate, no name, no time (so the same layer always compresses to
/// the same bytes), OS "unknown".
pub const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// One compressed block and what the trailer needs of it.
pub struct Deflated {
    pub bytes: Vec<u8>,
    pub crc: crc32fast::Hasher,
    pub len: u64,
}

/// How much of a block is tried first to tell whether it compresses at all.
const SAMPLE: usize = 32 * 1024;

/// Deflates one block. `dictionary` is the end of the previous block (empty for the first);
/// `last` finishes the stream.
///
/// A block that does not compress (random data, files that are compressed already: a large
/// share of many images) is stored as it is, in deflate's stored blocks: the same size
/// deflate would have made, at the cost of a copy instead of a search. A sample of the
/// block decides.
pub fn deflate_block(data: &[u8], dictionary: &[u8], level: u32, last: bool) -> Deflated {
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    let bytes = if data.len() >= 4 * SAMPLE && incompressible(&data[..SAMPLE], level) {
        stored(data, last)
    } else {
        deflate(data, dictionary, level, last)
    };
    Deflated {
        bytes,
        crc,
        len: data.len() as u64,
    }
}

/// Whether deflate saves less than 2 % on `sample`.
fn incompressible(sample: &[u8], level: u32) -> bool {
    let out = deflate(sample, &[], level, true);
    out.len() * 100 >= sample.len() * 98
}

/// `data` as deflate stored blocks (each at most 65,535 bytes, starting on a byte boundary,
/// as every block before it ends on one), the last one final when `last`.
fn stored(data: &[u8], last: bool) -> Vec<u8> {
    const MAX: usize = 65_535;
    let mut out = Vec::with_capacity(data.len() + data.len() / MAX * 5 + 10);
    let mut chunks = data.chunks(MAX).peekable();
    while let Some(chunk) = chunks.next() {
        let final_block = last && chunks.peek().is_none();
        out.push(u8::from(final_block));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

fn deflate(data: &[u8], dictionary: &[u8], level: u32, last: bool) -> Vec<u8> {
    let mut c = Compress::new(Compression::new(level), false);
    if !dictionary.is_empty() {
        // Only fails on a stream that has started; this one has not.
        let _ = c.set_dictionary(dictionary);
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let done = c.total_in() as usize;
        let status = c
            .compress_vec(&data[done..], &mut out, flush)
            .unwrap_or(Status::BufError);
        let all_in = c.total_in() as usize == data.len();
        // A flush is complete when deflate had room left over after taking all the input.
        let room = out.capacity() > out.len();
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError if !last && all_in && room => break,
            _ => {}
        }
    }
    out
}

/// The running state of one gzip stream put together from blocks, in order.
pub struct Trailer {
    crc: crc32fast::Hasher,
    len: u64,
}

impl Default for Trailer {
    fn default() -> Self {
        Trailer {
            crc: crc32fast::Hasher::new(),
            len: 0,
        }
    }
}

impl Trailer {
    pub fn add(&mut self, block: &Deflated) {
        self.crc.combine(&block.crc);
        self.len += block.len;
    }

    /// CRC-32 and the length modulo 2^32, little-endian.
    pub fn finish(self) -> [u8; 8] {
        let mut t = [0u8; 8];
        t[..4].copy_from_slice(&self.crc.finalize().to_le_bytes());
        t[4..].copy_from_slice(&(self.len as u32).to_le_bytes());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gzip_in_blocks(data: &[u8], block: usize) -> Vec<u8> {
        let mut out = HEADER.to_vec();
        let mut trailer = Trailer::default();
        let chunks: Vec<&[u8]> = if data.is_empty() {
            vec![&[]]
        } else {
            data.chunks(block).collect()
        };
        for (i, c) in chunks.iter().enumerate() {
            let dict = if i == 0 {
                &[][..]
            } else {
                let prev = chunks[i - 1];
                &prev[prev.len().saturating_sub(DICTIONARY)..]
            };
            let d = deflate_block(c, dict, 1, i + 1 == chunks.len());
            trailer.add(&d);
            out.extend_from_slice(&d.bytes);
        }
        out.extend_from_slice(&trailer.finish());
        out
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .expect("a valid gzip stream");
        out
    }

    #[test]
    fn blocks_put_together_are_one_gzip_stream_of_the_input() {
        // Text that repeats across block boundaries (the dictionary matters), and noise.
        let mut data = Vec::new();
        for i in 0..40_000u32 {
            data.extend_from_slice(format!("line {i} of a layer\n").as_bytes());
        }
        let mut x = 12345u32;
        for _ in 0..300_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            data.push((x >> 16) as u8);
        }
        for block in [4096, 65536, 1 << 20] {
            assert_eq!(gunzip(&gzip_in_blocks(&data, block)), data, "block {block}");
        }
        assert_eq!(gunzip(&gzip_in_blocks(&[], 4096)), Vec::<u8>::new());
    }

    #[test]
    fn incompressible_blocks_are_stored_and_the_stream_stays_valid() {
        let mut x = 7u32;
        let noise: Vec<u8> = (0..(3 << 20))
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let mut data = noise.clone();
        data.extend(std::iter::repeat_n(b'a', 1 << 20));
        let gz = gzip_in_blocks(&data, 1 << 20);
        assert_eq!(gunzip(&gz), data);
        // Stored: about the input's size, plus 5 bytes per 64 KiB.
        let noise_part = deflate_block(&noise[..1 << 20], &[], 1, false).bytes.len();
        assert!(noise_part < (1 << 20) + 100, "{noise_part}");
        assert!(noise_part >= 1 << 20);
    }

    #[test]
    fn the_dictionary_keeps_the_ratio_of_one_stream() {
        let mut data = Vec::new();
        for i in 0..200_000u32 {
            data.extend_from_slice(format!("{} ", i % 977).as_bytes());
        }
        let blocks = gzip_in_blocks(&data, 64 * 1024).len();
        let mut one = Vec::new();
        let mut e = flate2::write::GzEncoder::new(&mut one, Compression::new(1));
        std::io::Write::write_all(&mut e, &data).unwrap();
        e.finish().unwrap();
        assert!(
            (blocks as f64) < one.len() as f64 * 1.05,
            "{blocks} vs {}",
            one.len()
        );
    }
}

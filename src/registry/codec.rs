//! Layer compression for berth's own push, one interface over two formats.
//!
//! Both cut a layer into blocks that are compressed on their own threads and put back in
//! order, so every core works on one layer:
//! - **gzip** ([`super::gzip`]): pigz's way, one gzip stream whose blocks share a 32 KiB
//!   window; a header before the blocks and a trailer (CRC-32, length) after.
//! - **zstd**: each block is a zstd frame of its own. A zstd stream may hold any number of
//!   frames, decoded one after the other (RFC 8878, section 3.1), and the decoders that
//!   pull images (containerd's, Go's klauspost/compress) read them all. The frames cannot
//!   share a window, so blocks are larger (4 MiB) to keep the ratio close to one frame's.

use super::gzip::{self, Deflated, Trailer};
use crate::engine::ports::{Compression, ManifestFormat};

/// zstd's level: its own default, as BuildKit and containerd use.
const ZSTD_LEVEL: i32 = 3;
/// gzip's level: 1 (the fastest), as crane and `pigz -1` use.
const GZIP_LEVEL: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec(pub Compression);

impl Codec {
    /// Input per block.
    pub fn block(self) -> usize {
        match self.0 {
            Compression::Gzip => gzip::BLOCK,
            Compression::Zstd => 4 * 1024 * 1024,
        }
    }

    /// How much of the previous block a block may refer back to.
    pub fn dictionary(self) -> usize {
        match self.0 {
            Compression::Gzip => gzip::DICTIONARY,
            Compression::Zstd => 0,
        }
    }

    /// What comes before the first block.
    pub fn header(self) -> &'static [u8] {
        match self.0 {
            Compression::Gzip => &gzip::HEADER,
            Compression::Zstd => &[],
        }
    }

    /// Compresses one block; `last` ends the stream.
    pub fn compress(self, data: &[u8], dictionary: &[u8], last: bool) -> std::io::Result<Deflated> {
        match self.0 {
            Compression::Gzip => Ok(gzip::deflate_block(data, dictionary, GZIP_LEVEL, last)),
            Compression::Zstd => Ok(Deflated {
                // The frame header carries the content size: a decoder can size its buffer.
                bytes: zstd::bulk::compress(data, ZSTD_LEVEL)?,
                crc: crc32fast::Hasher::new(),
                len: data.len() as u64,
            }),
        }
    }

    /// What comes after the last block.
    pub fn trailer(self, t: Trailer) -> Vec<u8> {
        match self.0 {
            Compression::Gzip => t.finish().to_vec(),
            Compression::Zstd => Vec::new(),
        }
    }

    /// The layer's media type in a manifest of `format`. Docker's manifest has no zstd type;
    /// validation pairs zstd with OCI.
    pub fn media_type(self, format: ManifestFormat) -> &'static str {
        match (format, self.0) {
            (ManifestFormat::Docker, _) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            (ManifestFormat::Oci, Compression::Gzip) => {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            }
            (ManifestFormat::Oci, Compression::Zstd) => {
                "application/vnd.oci.image.layer.v1.tar+zstd"
            }
        }
    }
}

/// The layer forms berth pushes: (manifest, compression).
const FORMS: [(ManifestFormat, Compression); 3] = [
    (ManifestFormat::Docker, Compression::Gzip),
    (ManifestFormat::Oci, Compression::Gzip),
    (ManifestFormat::Oci, Compression::Zstd),
];

/// The compression a layer media type names, for the forms berth pushes (none for others:
/// foreign layers, uncompressed tars).
pub fn compression_of(media_type: &str) -> Option<Compression> {
    FORMS
        .iter()
        .find(|(m, c)| Codec(*c).media_type(*m) == media_type)
        .map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn only_pushable_layer_types_name_a_compression() {
        assert_eq!(
            compression_of("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            compression_of("application/vnd.oci.image.layer.v1.tar+gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            compression_of("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Compression::Zstd)
        );
        // Foreign (Windows) layers and uncompressed tars are not what berth pushes.
        assert_eq!(
            compression_of("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"),
            None
        );
        assert_eq!(
            compression_of("application/vnd.oci.image.layer.v1.tar"),
            None
        );
    }

    /// Blocks compressed on their own, put together, decode to the input in both formats.
    #[test]
    fn blocks_put_together_decode_to_the_input() {
        let mut input = Vec::new();
        for i in 0..300_000u32 {
            input.extend_from_slice(format!("line {i} of a layer\n").as_bytes());
        }
        // Some bytes that do not compress, too.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..(2 * 1024 * 1024) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            input.push(x as u8);
        }
        for c in [Compression::Gzip, Compression::Zstd] {
            let codec = Codec(c);
            let mut out = codec.header().to_vec();
            let mut trailer = Trailer::default();
            let blocks: Vec<&[u8]> = input.chunks(codec.block()).collect();
            for (i, block) in blocks.iter().enumerate() {
                let start = (i * codec.block()).saturating_sub(codec.dictionary());
                let dictionary = if i == 0 {
                    &[][..]
                } else {
                    &input[start..i * codec.block()]
                };
                let b = codec
                    .compress(block, dictionary, i + 1 == blocks.len())
                    .unwrap();
                trailer.add(&b);
                out.extend_from_slice(&b.bytes);
            }
            out.extend_from_slice(&codec.trailer(trailer));
            assert!(out.len() < input.len(), "{c:?} did not compress");
            let mut back = Vec::new();
            match c {
                Compression::Gzip => {
                    flate2::read::GzDecoder::new(&out[..])
                        .read_to_end(&mut back)
                        .unwrap();
                }
                Compression::Zstd => {
                    back = zstd::stream::decode_all(&out[..]).unwrap();
                }
            }
            assert!(
                back == input,
                "{c:?}: the decoded stream differs from the input"
            );
        }
    }
}

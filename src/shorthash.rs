//! A fast hash for short byte strings (tokens, map keys, class words): they come from
//! the configuration, maps and test input, not from an adversary on the network.

use std::hash::{BuildHasherDefault, Hasher};

const MUL: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// A multiply-rotate hash over 8-byte words.
#[derive(Default)]
pub(crate) struct ShortHasher(u64);

impl Hasher for ShortHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(self.0, bytes);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(MUL);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) fn hash_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(MUL);
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    let w = u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56);
    h = (h.rotate_left(5) ^ w).wrapping_mul(MUL);
    h ^ (h >> 29)
}

impl std::fmt::Debug for ShortHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShortHasher")
    }
}

/// Hash maps keyed by tokens or short byte strings.
pub(crate) type FastState = BuildHasherDefault<ShortHasher>;

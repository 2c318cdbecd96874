//! A Bloom filter over filing ids: "certainly not cold" in a few probes,
//! so a new filing never pays for a look at the cold files.

use hoso_model::codec::{ByteReader, CodecError, put_u32};

/// Probes per lookup; with `bits_per_entry` 15 about 0.1% false
/// positives, with 10 about 1%.
const PROBES: u32 = 7;

/// The 64-bit hash every filter of a partition probes with (FNV-1a, then
/// a finaliser): computed once per id, stable across builds (the filters
/// are checkpointed).
pub fn id_hash(id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finaliser spreads FNV's weak low bits.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bloom {
    words: Vec<u64>,
    /// Bits in use: exactly what was asked for, not a power of two.
    bits: u64,
    /// Entries it was sized for.
    capacity: usize,
    len: usize,
}

impl Bloom {
    /// A filter for `capacity` entries at `bits_per_entry` bits each.
    pub fn with_capacity(capacity: usize, bits_per_entry: usize) -> Self {
        let capacity = capacity.max(64);
        let words = (capacity * bits_per_entry).div_ceil(64);
        Bloom {
            words: vec![0; words],
            bits: words as u64 * 64,
            capacity,
            len: 0,
        }
    }

    fn probes(&self, hash: u64) -> impl Iterator<Item = usize> + use<> {
        // Double hashing, h1 + i * h2 (Kirsch-Mitzenmacher), each mapped
        // onto the bits by a multiply-shift (no power-of-two rounding).
        let bits = u128::from(self.bits);
        let (h1, h2) = (hash, hash.rotate_left(32) | 1);
        (0..u64::from(PROBES)).map(move |i| {
            let g = h1.wrapping_add(i.wrapping_mul(h2));
            ((u128::from(g) * bits) >> 64) as usize
        })
    }

    pub fn insert(&mut self, hash: u64) {
        for bit in self.probes(hash) {
            self.words[bit / 64] |= 1 << (bit % 64);
        }
        self.len += 1;
    }

    /// False: certainly never inserted.
    pub fn may_contain(&self, hash: u64) -> bool {
        self.probes(hash)
            .all(|bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// Holds more than it was sized for (its false positives climb).
    pub fn is_full(&self) -> bool {
        self.len > self.capacity
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.capacity as u32);
        put_u32(out, self.len as u32);
        put_u32(out, self.words.len() as u32);
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }

    pub fn decode(r: &mut ByteReader<'_>) -> Result<Bloom, CodecError> {
        let capacity = r.u32()? as usize;
        let len = r.u32()? as usize;
        let n = r.count(8)?;
        if n == 0 {
            return Err(CodecError::Corrupt("bloom of 0 words".into()));
        }
        let mut words = Vec::with_capacity(n);
        for _ in 0..n {
            let b = r.take(8)?;
            words.push(u64::from_le_bytes(b.try_into().expect("8 bytes")));
        }
        Ok(Bloom {
            bits: words.len() as u64 * 64,
            words,
            capacity,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut b = Bloom::with_capacity(10_000, 15);
        for i in 0..10_000 {
            b.insert(id_hash(format!("F-{i}").as_bytes()));
        }
        assert!((0..10_000).all(|i| b.may_contain(id_hash(format!("F-{i}").as_bytes()))));
        let fp = (0..100_000)
            .filter(|i| b.may_contain(id_hash(format!("G-{i}").as_bytes())))
            .count();
        assert!(fp < 400, "{fp} false positives in 100,000 (want ~0.1%)");
        let mut small = Bloom::with_capacity(10_000, 10);
        for i in 0..10_000 {
            small.insert(id_hash(format!("F-{i}").as_bytes()));
        }
        let fp = (0..100_000)
            .filter(|i| small.may_contain(id_hash(format!("G-{i}").as_bytes())))
            .count();
        assert!(fp < 2_000, "{fp} false positives in 100,000 (want ~1%)");
        assert!(!b.is_full());
        let mut out = Vec::new();
        b.encode(&mut out);
        assert_eq!(Bloom::decode(&mut ByteReader::new(&out)).unwrap(), b);
    }

    #[test]
    fn the_hash_never_changes() {
        // Checkpoints hold filters built with it.
        // FNV-1a 64 + splitmix64's finaliser, worked out in Python.
        assert_eq!(id_hash(b"F-1"), 0x816f_faec_6ada_1caf);
        assert_ne!(id_hash(b"F-1"), id_hash(b"F-2"));
    }
}

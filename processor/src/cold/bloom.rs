//! A Bloom filter over filing ids: "certainly not cold" in a few probes,
//! so a new filing never pays for a look at the cold files.

use hoso_model::codec::{ByteReader, CodecError, put_u32};

/// Bits per entry and probes: about 0.1% false positives.
const BITS_PER_ENTRY: usize = 15;
const PROBES: u32 = 10;

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
    /// Entries it was sized for.
    capacity: usize,
    len: usize,
}

impl Bloom {
    pub fn with_capacity(capacity: usize) -> Self {
        let bits = (capacity.max(64) * BITS_PER_ENTRY).next_power_of_two();
        Bloom {
            words: vec![0; bits / 64],
            capacity: capacity.max(64),
            len: 0,
        }
    }

    fn probes(&self, hash: u64) -> impl Iterator<Item = usize> + use<> {
        // Double hashing: h1 + i * h2 (Kirsch-Mitzenmacher).
        let mask = (self.words.len() * 64 - 1) as u64;
        let (h1, h2) = (hash, (hash >> 32) | 1);
        (0..u64::from(PROBES)).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) & mask) as usize)
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
        if !n.is_power_of_two() {
            return Err(CodecError::Corrupt(format!("bloom of {n} words")));
        }
        let mut words = Vec::with_capacity(n);
        for _ in 0..n {
            let b = r.take(8)?;
            words.push(u64::from_le_bytes(b.try_into().expect("8 bytes")));
        }
        Ok(Bloom {
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
        let mut b = Bloom::with_capacity(10_000);
        for i in 0..10_000 {
            b.insert(id_hash(format!("F-{i}").as_bytes()));
        }
        assert!((0..10_000).all(|i| b.may_contain(id_hash(format!("F-{i}").as_bytes()))));
        let fp = (0..100_000)
            .filter(|i| b.may_contain(id_hash(format!("G-{i}").as_bytes())))
            .count();
        assert!(fp < 400, "{fp} false positives in 100,000 (want ~0.1%)");
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

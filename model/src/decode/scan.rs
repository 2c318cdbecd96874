//! The fast path of [`super::decode_event_with`]: a scanner for the shape
//! nearly every event has, a flat JSON object whose strings have no escapes.
//!
//! It reads the same [`Raw`] fields as the serde visitor, or gives up
//! (`None`) at the first thing outside that shape: an escape, a nested
//! value, a number it does not take, a repeated field, a value of the wrong
//! type, broken JSON. The caller then decodes the same bytes with serde, so
//! every refusal and every unusual event is serde's, message included. What
//! the scanner accepts is a subset of what serde accepts, and it reads it
//! to the same fields (a differential test in this file holds it to that).
//!
//! Why: serde_json's general parser (a visitor call per key and value, a
//! byte-at-a-time string scan) was half of the decode's time. Here a string
//! is scanned eight bytes at a time, and a key is matched once.

use std::borrow::Cow;

use super::Raw;

/// The fields of a flat, escape-free event, or `None`: decode with serde.
pub(super) fn scan(text: &str) -> Option<Raw<'_>> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    let mut r = Raw::default();
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if s.peek()? == b'}' {
        s.i += 1;
    } else {
        loop {
            s.ws();
            let key = s.string()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            match key {
                "event_id" => required(&mut r.event_id, s.string()?)?,
                "filing_id" => required(&mut r.filing_id, s.string()?)?,
                "type" => required(&mut r.kind, s.string()?)?,
                "occurred_at" => required(&mut r.occurred_at, s.string()?)?,
                "province_code" => required(&mut r.province_code, s.string()?)?,
                "commune_code" => required(&mut r.commune_code, s.string()?)?,
                "procedure_code" => optional(&mut r.procedure_code, s.string_or_null()?)?,
                "channel" => optional(&mut r.channel, s.string_or_null()?)?,
                "due_at" => optional(&mut r.due_at, s.string_or_null()?)?,
                "seq" => {
                    if r.seq.is_some() {
                        return None;
                    }
                    r.seq = Some(s.count()?);
                }
                "eid_level2" => flag(&mut r.eid_level2, s.bool_or_null()?)?,
                "digitized" => flag(&mut r.digitized, s.bool_or_null()?)?,
                "fee_required" => flag(&mut r.fee_required, s.bool_or_null()?)?,
                "online_payment" => flag(&mut r.online_payment, s.bool_or_null()?)?,
                _ => s.skip_scalar()?,
            }
            s.ws();
            match s.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.ws();
    (s.i == s.b.len()).then_some(r)
}

/// A field serde reads as a string: a repeat is serde's error to give.
fn required<'a>(slot: &mut Option<Cow<'a, str>>, v: &'a str) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(Cow::Borrowed(v));
    Some(())
}

/// A field serde reads as `Option<Text>`: `null` leaves it absent, and
/// serde's repeat check, like this one, looks at what is filled.
fn optional<'a>(slot: &mut Option<Cow<'a, str>>, v: Option<&'a str>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = v.map(Cow::Borrowed);
    Some(())
}

fn flag(slot: &mut Option<bool>, v: Option<bool>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = v;
    Some(())
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A high bit in every byte of `w` that ends a plain string: `"`, `\` or a
/// control character (which JSON strings may not hold raw). Only the
/// lowest flagged byte is sure to be one (a borrow can flag bytes above a
/// true match), and only the lowest is used.
fn string_stops(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let backslash = zero(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    quote | backslash | control
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// JSON's whitespace, as serde_json skips it.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string without escapes or control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let mut j = start;
        while let Some(chunk) = self.b.get(j..j + 8) {
            let w = u64::from_le_bytes(chunk.try_into().ok()?);
            let stops = string_stops(w);
            if stops != 0 {
                j += (stops.trailing_zeros() / 8) as usize;
                return self.end_string(start, j);
            }
            j += 8;
        }
        while let Some(&c) = self.b.get(j) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                return self.end_string(start, j);
            }
            j += 1;
        }
        None
    }

    fn end_string(&mut self, start: usize, at: usize) -> Option<&'a str> {
        if self.b[at] != b'"' {
            return None;
        }
        self.i = at + 1;
        // Both ends are ASCII quotes, so both are character boundaries.
        self.text.get(start..at)
    }

    fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    fn bool_or_null(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// An integer >= 0 that fits a u64, as JSON writes it (no sign, no
    /// leading zero, no fraction or exponent: those are serde's to judge).
    fn count(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        if digits == 0 || (digits > 1 && self.b[start] == b'0') {
            return None;
        }
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(v),
        }
    }

    /// The value of a field this version does not know: a plain string,
    /// `true`, `false`, `null` or a short number. Anything else (objects,
    /// arrays, long or exponent numbers) goes to serde.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.short_number(),
            _ => None,
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?` with at most 15 digits on either
    /// side of the point: numbers that serde_json parses without question.
    fn short_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int = self.digits();
        if !(1..=15).contains(&int) || (int > 1 && self.b[self.i - int] == b'0') {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !(1..=15).contains(&self.digits()) {
                return None;
            }
        }
        match self.peek() {
            Some(b'e' | b'E') => None,
            _ => Some(()),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode_event, decode_event_by_serde};
    use super::*;

    /// Events as producers send them, and some of the odd ones the
    /// contract allows.
    const SEEDS: [&str; 6] = [
        r#"{"event_id":"e1","filing_id":"F1","seq":1,"type":"received","occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004","procedure_code":"1.001193","channel":"online","due_at":"2025-07-03T17:00:00+07:00","eid_level2":true,"digitized":null}"#,
        r#"{"event_id":"01-2025-7","filing_id":"H01.00004-250701-7","seq":3,"type":"fee_paid","occurred_at":"2025-07-01T10:15:00Z","province_code":"01","commune_code":"00004","online_payment":false}"#,
        r#" { "seq" : 12 , "type":"extended", "event_id":"x","filing_id":"Hồ sơ 7","occurred_at":"2025-07-02T08:00:00.250+07:00","province_code":"79","commune_code":"26737","due_at":"2025-07-09T17:00:00+07:00","note":"ghi chú","n":-1.5,"ok":true} "#,
        r#"{"event_id":"e\u0031","filing_id":"F\"1","seq":2,"type":"processing","occurred_at":"2025-07-01T08:00:00Z","province_code":"01","commune_code":"00004"}"#,
        r#"{"event_id":"e1","filing_id":"F1","seq":1,"type":"received","occurred_at":"2025-07-01T08:00:00+07:00","province_code":"01","commune_code":"00004","procedure_code":null,"channel":"postal","future":{"a":[1,2]}}"#,
        "{}",
    ];

    #[test]
    fn plain_events_take_the_fast_path() {
        for seed in &SEEDS[..3] {
            let raw = scan(seed).unwrap_or_else(|| panic!("scanned: {seed}"));
            assert!(raw.event_id.is_some() && raw.seq.is_some());
        }
        // Escapes and nested values are serde's.
        assert!(scan(SEEDS[3]).is_none());
        assert!(scan(SEEDS[4]).is_none());
        assert!(scan(r#"{"seq":1,"seq":1}"#).is_none(), "a repeat");
        assert!(scan(r#"{"seq":01}"#).is_none(), "a leading zero");
        assert!(scan(r#"{"seq":1e0}"#).is_none(), "an exponent");
        assert!(scan(r#"{"event_id":"a"} x"#).is_none(), "trailing");
        assert!(scan("{\"event_id\":\"a\tb\"}").is_none(), "a raw tab");
    }

    #[test]
    fn the_stop_mask_finds_the_first_quote_backslash_or_control() {
        for (text, at) in [
            ("abcdefgh", None),
            ("abc\"efgh", Some(3)),
            ("\\bcdefg\"", Some(0)),
            ("ab\x01\"efgh", Some(2)),
            ("éééé", None),
            ("\x1f\"\"\"\"\"\"\"", Some(0)),
            ("\x7f\u{80} !AB\"", Some(7)),
        ] {
            let w = u64::from_le_bytes(text.as_bytes()[..8].try_into().unwrap());
            let stops = string_stops(w);
            let first = (stops != 0).then(|| (stops.trailing_zeros() / 8) as usize);
            assert_eq!(first, at, "{text:?}");
        }
    }

    /// SplitMix64: the mutations are the same on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random edits of real events: whatever the bytes, the fast path and
    /// serde alone give the same event or the same refusal.
    #[test]
    fn the_fast_path_agrees_with_serde_on_mutated_events() {
        const PIECES: [&str; 24] = [
            "\"",
            "\\",
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\t",
            "\n",
            "\x01",
            "0",
            "1",
            "9",
            "-",
            ".",
            "e",
            "null",
            "true",
            "false",
            "é",
            ",\"seq\":4",
            ",\"due_at\":null",
        ];
        let mut rng = Rng(7);
        let (mut fast, mut cases) = (0, 0);
        for round in 0..60_000 {
            let mut s = SEEDS[round % SEEDS.len()].to_string();
            for _ in 0..1 + rng.below(3) {
                let mut at = rng.below(s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.below(3) {
                    0 => s.insert_str(at, PIECES[rng.below(PIECES.len())]),
                    1 if at < s.len() => {
                        s.remove(at);
                    }
                    _ => {
                        let mut end = (at + 1 + rng.below(12)).min(s.len());
                        while !s.is_char_boundary(end) {
                            end -= 1;
                        }
                        s.replace_range(at..end, PIECES[rng.below(PIECES.len())]);
                    }
                }
            }
            cases += 1;
            fast += usize::from(scan(&s).is_some());
            assert_eq!(
                decode_event(s.as_bytes()),
                decode_event_by_serde(s.as_bytes()),
                "{s}"
            );
        }
        // The comparison means something only if both paths were taken.
        assert!(fast > cases / 10, "{fast} of {cases} on the fast path");
        assert!(fast < cases * 9 / 10, "{fast} of {cases} on the fast path");
    }
}

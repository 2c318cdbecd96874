//! The dates portal records carry, as UTC milliseconds.
//!
//! The portal's own form is `yyyyMMddHHmmss` in local time
//! (Asia/Ho_Chi_Minh). Senders also use a bare `yyyyMMdd`, ISO dates with
//! or without a time and zone, the Vietnamese `dd/MM/yyyy [HH:mm[:ss]]`,
//! .NET's `/Date(ms)/`, and the 14 digits as a JSON number. A form without
//! a zone is local time. An empty string or `null` is no date: the record
//! has not reached that step.

use serde_json::Value;

use crate::time::{LOCAL_OFFSET_MS, days_from_civil, days_in_month};

/// Why a date was refused, for the message that names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DateError(String);

fn refuse(why: impl Into<String>) -> DateError {
    DateError(why.into())
}

/// The forms accepted, for an error that says what would have been read.
const FORMS: &str = "yyyyMMddHHmmss, yyyyMMdd, yyyy-MM-dd[THH:mm[:ss[.fff]]][Z|+07:00], \
                     dd/MM/yyyy[ HH:mm[:ss]] or /Date(ms)/";

/// A JSON value as a date: `None` for `null` or an empty string.
pub fn parse(value: &Value) -> Result<Option<i64>, DateError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => parse_str(s),
        Value::Number(n) => match n.as_u64() {
            Some(n) => parse_str(&n.to_string()),
            None => Err(refuse(format!("{n} is not a date ({FORMS})"))),
        },
        other => Err(refuse(format!("{other} is not a date ({FORMS})"))),
    }
}

/// A date as text: `None` when it is empty.
pub fn parse_str(s: &str) -> Result<Option<i64>, DateError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || refuse(format!("{s:?} is not a date ({FORMS})"));
    if let Some(inner) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        // The instant in ms, maybe followed by the sender's zone (`+0700`),
        // which does not move it.
        let end = inner
            .char_indices()
            .skip(1)
            .find(|(_, c)| matches!(c, '+' | '-'))
            .map_or(inner.len(), |(i, _)| i);
        let zone = &inner[end..];
        if !zone.is_empty() && (zone.len() != 5 || digits(&zone[1..]).is_none()) {
            return Err(bad());
        }
        return inner[..end].parse::<i64>().map(Some).map_err(|_| bad());
    }
    let b = s.as_bytes();
    let all_digits = b.iter().all(u8::is_ascii_digit);
    let fields = if all_digits && b.len() == 14 {
        let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(u32::MAX);
        Local {
            year: n(0..4),
            month: n(4..6),
            day: n(6..8),
            hour: n(8..10),
            minute: n(10..12),
            second: n(12..14),
            ms: 0,
        }
        .at(None)
    } else if all_digits && b.len() == 8 {
        let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(u32::MAX);
        Local::day(n(0..4), n(4..6), n(6..8)).at(None)
    } else if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        iso(s).ok_or_else(bad)?
    } else if b.len() >= 10 && b[2] == b'/' && b[5] == b'/' {
        vietnamese(s).ok_or_else(bad)?
    } else {
        return Err(bad());
    };
    fields.map(Some)
}

/// A civil date and time, checked field by field.
struct Local {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    ms: u32,
}

impl Local {
    fn day(year: u32, month: u32, day: u32) -> Local {
        Local {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            ms: 0,
        }
    }

    /// A date (year, month, day) at a [`clock`] time.
    fn at_clock(
        (year, month, day): (u32, u32, u32),
        (hour, minute, second, ms): (u32, u32, u32, u32),
    ) -> Local {
        Local {
            year,
            month,
            day,
            hour,
            minute,
            second,
            ms,
        }
    }

    /// UTC ms, the time being at `offset_ms` from UTC (local time when
    /// `None`).
    fn at(&self, offset_ms: Option<i64>) -> Result<i64, DateError> {
        if !(1900..=2999).contains(&self.year) {
            return Err(refuse(format!("year {} is out of range", self.year)));
        }
        if !(1..=12).contains(&self.month) {
            return Err(refuse(format!("month {} is not 1-12", self.month)));
        }
        let last = days_in_month(i64::from(self.year), self.month);
        if !(1..=last).contains(&self.day) {
            return Err(refuse(format!(
                "day {} is not in {:04}-{:02} (1-{last})",
                self.day, self.year, self.month
            )));
        }
        if self.hour > 23 || self.minute > 59 || self.second > 59 {
            return Err(refuse(format!(
                "{:02}:{:02}:{:02} is not a time of day",
                self.hour, self.minute, self.second
            )));
        }
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let in_day = ((i64::from(self.hour) * 60 + i64::from(self.minute)) * 60
            + i64::from(self.second))
            * 1000
            + i64::from(self.ms);
        Ok(days * 86_400_000 + in_day - offset_ms.unwrap_or(LOCAL_OFFSET_MS))
    }
}

/// `HH:mm[:ss[.fff]]`: hour, minute, second, ms.
fn clock(t: &str) -> Option<(u32, u32, u32, u32)> {
    let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut parts = hms.split(':');
    let mut next = || -> Option<u32> {
        let p = parts.next()?;
        (p.len() == 2 && p.bytes().all(|c| c.is_ascii_digit())).then(|| p.parse().ok())?
    };
    let (hour, minute) = (next()?, next()?);
    let second = match hms.matches(':').count() {
        1 => 0,
        2 => next()?,
        _ => return None,
    };
    if !frac.bytes().all(|c| c.is_ascii_digit()) || (frac.is_empty() && t.contains('.')) {
        return None;
    }
    // Milliseconds: finer digits are cut, as the contract's RFC 3339 is.
    let ms = format!("{frac:0<3}")[..3].parse().ok()?;
    Some((hour, minute, second, ms))
}

fn digits(s: &str) -> Option<u32> {
    s.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| s.parse().ok())?
}

/// `yyyy-MM-dd[(T| )HH:mm[:ss[.fff]]][Z|±HH:mm]`.
fn iso(s: &str) -> Option<Result<i64, DateError>> {
    let (date, rest) = (&s[..10], &s[10..]);
    let (year, month, day) = (
        digits(&date[0..4])?,
        digits(&date[5..7])?,
        digits(&date[8..10])?,
    );
    if rest.is_empty() {
        return Some(Local::day(year, month, day).at(None));
    }
    let rest = rest.strip_prefix(['T', ' '])?;
    let (time, offset) = match rest.find(['Z', '+', '-']) {
        Some(i) => {
            let zone = &rest[i..];
            let offset = if zone == "Z" {
                0
            } else {
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                let (h, m) = zone[1..].split_once(':')?;
                if h.len() != 2 || m.len() != 2 {
                    return None;
                }
                let (h, m) = (digits(h)?, digits(m)?);
                if h > 14 || m > 59 {
                    return None;
                }
                sign * (i64::from(h) * 60 + i64::from(m)) * 60_000
            };
            (&rest[..i], Some(offset))
        }
        None => (rest, None),
    };
    Some(Local::at_clock((year, month, day), clock(time)?).at(offset))
}

/// `dd/MM/yyyy[ HH:mm[:ss]]`, local time.
fn vietnamese(s: &str) -> Option<Result<i64, DateError>> {
    let (date, time) = s.split_once(' ').unwrap_or((s, ""));
    if date.len() != 10 {
        return None;
    }
    let (day, month, year) = (
        digits(&date[0..2])?,
        digits(&date[3..5])?,
        digits(&date[6..10])?,
    );
    let time = if time.is_empty() {
        (0, 0, 0, 0)
    } else {
        clock(time.trim())?
    };
    Some(Local::at_clock((year, month, day), time).at(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339_ms;

    fn at(rfc3339: &str) -> Option<i64> {
        Some(parse_rfc3339_ms(rfc3339).unwrap())
    }

    #[test]
    fn every_form_reads_the_same_instant() {
        let want = at("2026-06-09T10:30:05+07:00");
        for s in [
            "20260609103005",
            "2026-06-09T10:30:05",
            "2026-06-09 10:30:05",
            "2026-06-09T10:30:05+07:00",
            "2026-06-09T03:30:05Z",
            "2026-06-09T03:30:05.000Z",
            "09/06/2026 10:30:05",
            " 20260609103005 ",
        ] {
            assert_eq!(parse_str(s), Ok(want), "{s}");
        }
        assert_eq!(parse(&serde_json::json!(20260609103005u64)), Ok(want));
        assert_eq!(
            parse_str("/Date(1780975805000)/"),
            Ok(at("2026-06-09T03:30:05Z"))
        );
        assert_eq!(
            parse_str("/Date(1780975805000+0700)/"),
            Ok(at("2026-06-09T03:30:05Z"))
        );
    }

    #[test]
    fn a_date_without_a_time_is_local_midnight() {
        let want = at("2026-06-09T00:00:00+07:00");
        for s in ["20260609", "2026-06-09", "09/06/2026"] {
            assert_eq!(parse_str(s), Ok(want), "{s}");
        }
        assert_eq!(
            parse_str("09/06/2026 08:15"),
            Ok(at("2026-06-09T08:15:00+07:00"))
        );
        // Finer than a millisecond is cut, as in the contract's timestamps.
        assert_eq!(
            parse_str("2026-06-09T08:15:30.1234+07:00"),
            Ok(at("2026-06-09T08:15:30.123+07:00"))
        );
    }

    #[test]
    fn no_date_is_none() {
        assert_eq!(parse_str(""), Ok(None));
        assert_eq!(parse_str("   "), Ok(None));
        assert_eq!(parse(&Value::Null), Ok(None));
    }

    #[test]
    fn a_bad_date_says_why() {
        for (s, why) in [
            ("20261309103005", "month 13 is not 1-12"),
            ("20260230000000", "day 30 is not in 2026-02 (1-28)"),
            ("20260609253005", "25:30:05 is not a time of day"),
            ("31/04/2026", "day 31 is not in 2026-04 (1-30)"),
            ("2026-06-09X10:30", "is not a date"),
            ("2026-06-09T10:30:05+25:00", "is not a date"),
            ("2026-06-09T10:30:05+7:00", "is not a date"),
            ("1780975805000", "is not a date"),
            ("hôm qua", "is not a date"),
            ("/Date(abc)/", "is not a date"),
            ("/Date(1780975805000+07)/", "is not a date"),
            ("00010101000000", "year 1 is out of range"),
        ] {
            let err = parse_str(s).unwrap_err().to_string();
            assert!(err.contains(why), "{s}: {err}");
        }
        let err = parse(&serde_json::json!(true)).unwrap_err().to_string();
        assert!(err.contains("true is not a date"), "{err}");
        let err = parse(&serde_json::json!(-5)).unwrap_err().to_string();
        assert!(err.contains("-5 is not a date"), "{err}");
    }
}

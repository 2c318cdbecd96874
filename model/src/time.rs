//! Time as the contract counts it: instants are UTC milliseconds since the
//! Unix epoch, days are local dates in Asia/Ho_Chi_Minh (UTC+7, no daylight
//! saving), so a local day is a plain offset and division, never a tz lookup.

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
/// Asia/Ho_Chi_Minh is UTC+7 all year round.
pub const LOCAL_OFFSET_MS: i64 = 7 * 3_600_000;

/// The local (UTC+7) date of an instant, as days since 1970-01-01: the same
/// number Arrow's `Date32` stores.
#[inline]
pub fn local_day(ms: i64) -> i32 {
    (ms + LOCAL_OFFSET_MS).div_euclid(DAY_MS) as i32
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Parses an RFC 3339 timestamp with an offset (`2025-07-01T08:30:00+07:00`,
/// `...Z`, optional fraction) into UTC milliseconds. Fractions finer than a
/// millisecond are truncated. The error says what is wrong, for the
/// validation message that names the field.
pub fn parse_rfc3339_ms(s: &str) -> Result<i64, &'static str> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return Err("is not an RFC 3339 timestamp with offset (e.g. 2025-07-01T08:30:00+07:00)");
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, &'static str> {
        let mut v = 0u32;
        for &c in &b[range] {
            if !c.is_ascii_digit() {
                return Err(
                    "is not an RFC 3339 timestamp with offset (e.g. 2025-07-01T08:30:00+07:00)",
                );
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Ok(v)
    };
    let shape_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !shape_ok {
        return Err("is not an RFC 3339 timestamp with offset (e.g. 2025-07-01T08:30:00+07:00)");
    }
    let year = i64::from(num(0..4)?);
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if !(1..=12).contains(&month) {
        return Err("has a month outside 01..12");
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("has a day that does not exist in its month");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("has a time of day out of range");
    }
    let mut i = 19;
    let mut millis = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return Err("has an empty fraction of a second");
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_min: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            if oh > 23 || om > 59 {
                return Err("has an offset out of range");
            }
            let m = i64::from(oh * 60 + om);
            if sign == b'-' { -m } else { m }
        }
        None => return Err("has no UTC offset (end it with Z or +07:00)"),
        _ => {
            return Err(
                "is not an RFC 3339 timestamp with offset (e.g. 2025-07-01T08:30:00+07:00)",
            );
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second)
        - offset_min * 60;
    Ok(secs * 1_000 + i64::from(millis))
}

/// Formats UTC milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`, for messages and
/// for tests.
pub fn format_utc_ms(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, f) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1_000 % 60,
        rem % 1_000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}Z")
}

/// Formats a day count (as [`local_day`] returns) as `YYYY-MM-DD`.
pub fn format_day(day: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_fractions() {
        let cases = [
            ("1970-01-01T00:00:00Z", Ok(0)),
            ("1970-01-01T07:00:00+07:00", Ok(0)),
            ("1969-12-31T17:00:00-07:00", Ok(0)),
            ("2025-07-01T08:30:00.5+07:00", Ok(1_751_333_400_500)),
            ("2025-07-01T08:30:00.123456+07:00", Ok(1_751_333_400_123)),
            ("2025-07-01t01:30:00z", Ok(1_751_333_400_000)),
            ("2024-02-29T00:00:00Z", Ok(1_709_164_800_000)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_rfc3339_ms(input), want, "{input}");
        }
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "2025-07-01",
            "2025-07-01T08:30:00",
            "2025-07-01 08:30",
            "2025-13-01T08:30:00Z",
            "2025-02-29T08:30:00Z",
            "2025-07-01T24:00:00Z",
            "2025-07-01T08:30:00+7:00",
            "2025-07-01T08:30:00.Z",
            "2025-07-01T08:30:00Zjunk",
            "yesterday at noon, roughly",
        ] {
            assert!(parse_rfc3339_ms(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn local_day_turns_at_local_midnight() {
        let before = parse_rfc3339_ms("2025-07-01T23:59:59+07:00").unwrap();
        let after = parse_rfc3339_ms("2025-07-02T00:00:00+07:00").unwrap();
        assert_eq!(format_day(local_day(before)), "2025-07-01");
        assert_eq!(format_day(local_day(after)), "2025-07-02");
        // 16:59:59Z on July 1st is still July 1st in Hanoi; 17:00Z is the 2nd.
        assert_eq!(format_day(local_day(after - 1)), "2025-07-01");
    }

    #[test]
    fn civil_round_trips() {
        for days in [-800_000i64, -1, 0, 1, 19_000, 20_270, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_utc_ms(1_751_333_400_500), "2025-07-01T01:30:00.500Z");
    }
}

//! The Vietnamese lunisolar calendar (âm lịch), as far as the holidays
//! need it: the solar date of a day of a (non-leap) lunar month.
//!
//! The standard method of Vietnamese almanacs (as published by Hồ Ngọc
//! Đức): months begin on the local day (UTC+7) of the astronomical new
//! moon, month 11 is the one holding the winter solstice, and in a year
//! with 13 months the leap month is the first one without a major solar
//! term. The new moons and the sun's longitude use the truncated series of
//! Meeus' *Astronomical Algorithms* (ch. 47-49), accurate to minutes for
//! 1900-2100, which is what the day of a new moon needs. Tested against
//! the government's announced Tết and Hùng Kings dates.

use std::f64::consts::PI;

/// Vietnam's time zone, hours east of UTC.
const ZONE: f64 = 7.0;
/// Julian day number of 1970-01-01, the crate's day 0.
const JD_UNIX: i64 = 2_440_588;
/// Mean length of a synodic month, days.
const SYNODIC: f64 = 29.530_588_853;
/// Julian date of the new moon numbered 0 (1900-01-01 13:52 UTC).
const NEW_MOON_0: f64 = 2_415_021.076_998_695;

/// Julian day number of a Gregorian date.
fn jd_from_date(day: i64, month: i64, year: i64) -> i64 {
    let a = (14 - month) / 12;
    let y = year + 4800 - a;
    let m = month + 12 * a - 3;
    day + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045
}

/// Local day number (UTC+7) of the `k`th new moon after 1900-01-01.
fn new_moon_day(k: i64) -> i64 {
    let k = k as f64;
    let t = k / 1236.85;
    let (t2, t3) = (t * t, t * t * t);
    let dr = PI / 180.0;
    let mut jd1 = 2_415_020.759_33 + 29.530_588_68 * k + 0.000_117_8 * t2 - 0.000_000_155 * t3;
    jd1 += 0.000_33 * ((166.56 + 132.87 * t - 0.009_173 * t2) * dr).sin();
    let m = 359.2242 + 29.105_356_08 * k - 0.000_033_3 * t2 - 0.000_003_47 * t3;
    let mpr = 306.0253 + 385.816_918_06 * k + 0.010_730_6 * t2 + 0.000_012_36 * t3;
    let f = 21.2964 + 390.670_506_46 * k - 0.001_652_8 * t2 - 0.000_002_39 * t3;
    let mut c1 = (0.1734 - 0.000_393 * t) * (m * dr).sin() + 0.0021 * (2.0 * dr * m).sin();
    c1 -= 0.4068 * (mpr * dr).sin() + 0.0161 * (dr * 2.0 * mpr).sin();
    c1 -= 0.0004 * (dr * 3.0 * mpr).sin();
    c1 += 0.0104 * (dr * 2.0 * f).sin() - 0.0051 * (dr * (m + mpr)).sin();
    c1 -= 0.0074 * (dr * (m - mpr)).sin() + 0.0004 * (dr * (2.0 * f + m)).sin();
    c1 -= 0.0004 * (dr * (2.0 * f - m)).sin() - 0.0006 * (dr * (2.0 * f + mpr)).sin();
    c1 += 0.0010 * (dr * (2.0 * f - mpr)).sin() + 0.0005 * (dr * (2.0 * mpr + m)).sin();
    // Terrestrial minus universal time, days.
    let delta_t = if t < -11.0 {
        0.001 + 0.000_839 * t + 0.000_226_1 * t2 - 0.000_008_45 * t3 - 0.000_000_081 * t * t3
    } else {
        -0.000_278 + 0.000_265 * t + 0.000_262 * t2
    };
    let jd = jd1 + c1 - delta_t;
    (jd + 0.5 + ZONE / 24.0).floor() as i64
}

/// The sun's longitude at the start of local day `jdn`, in twelfths of a
/// circle (0 = from the March equinox; 9 = from the winter solstice).
fn sun_longitude(jdn: i64) -> i64 {
    let t = (jdn as f64 - 2_451_545.5 - ZONE / 24.0) / 36525.0;
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.529_10 + 35_999.050_30 * t - 0.000_155_9 * t2 - 0.000_000_48 * t * t2;
    let mut dl = (1.914_600 - 0.004_817 * t - 0.000_014 * t2) * (dr * m).sin();
    dl += (0.019_993 - 0.000_101 * t) * (dr * 2.0 * m).sin() + 0.000_290 * (dr * 3.0 * m).sin();
    let l0 = 280.466_45 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let mut l = (l0 + dl) * dr;
    l -= 2.0 * PI * (l / (2.0 * PI)).floor();
    (l / PI * 6.0).floor() as i64
}

/// Julian day number of the first day of lunar month 11 of the lunar year
/// that ends in Gregorian `year` (the month holding the winter solstice).
fn month_11(year: i64) -> i64 {
    let off = jd_from_date(31, 12, year) - 2_415_021;
    let k = (off as f64 / SYNODIC).floor() as i64;
    let nm = new_moon_day(k);
    if sun_longitude(nm) >= 9 {
        new_moon_day(k - 1)
    } else {
        nm
    }
}

/// In a 13-month year starting at month 11 `a11`, how many months after
/// it the leap month comes.
fn leap_month_offset(a11: i64) -> i64 {
    let k = ((a11 as f64 - NEW_MOON_0) / SYNODIC + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = sun_longitude(new_moon_day(k + i));
    loop {
        let last = arc;
        i += 1;
        arc = sun_longitude(new_moon_day(k + i));
        if arc == last || i >= 14 {
            break;
        }
    }
    i - 1
}

/// The crate's local day number of lunar `day`/`month` (not a leap month)
/// of lunar year `year` (the one whose month 1 falls in Gregorian `year`).
pub fn solar_day(day: u32, month: u32, year: i32) -> i32 {
    let (month, year) = (i64::from(month), i64::from(year));
    let (a11, b11) = if month < 11 {
        (month_11(year - 1), month_11(year))
    } else {
        (month_11(year), month_11(year + 1))
    };
    let k = (0.5 + (a11 as f64 - NEW_MOON_0) / SYNODIC).floor() as i64;
    let mut off = (month - 11).rem_euclid(12);
    if b11 - a11 > 365 && off >= leap_month_offset(a11) {
        // A leap month comes before this one.
        off += 1;
    }
    let start = new_moon_day(k + off);
    (start + i64::from(day) - 1 - JD_UNIX) as i32
}

#[cfg(test)]
mod tests {
    use super::solar_day;
    use crate::time::days_from_civil;

    fn day(y: i32, m: u32, d: u32) -> i32 {
        days_from_civil(i64::from(y), m, d) as i32
    }

    #[test]
    fn tet_and_hung_kings_match_the_announced_years() {
        // Mùng 1 Tết and 10/3, as the government's notices give them.
        let tet = [
            (2020, day(2020, 1, 25)),
            (2023, day(2023, 1, 22)),
            (2024, day(2024, 2, 10)),
            (2025, day(2025, 1, 29)),
            (2026, day(2026, 2, 17)),
            (2027, day(2027, 2, 6)),
        ];
        for (y, d) in tet {
            assert_eq!(solar_day(1, 1, y), d, "Tết {y}");
        }
        let hung = [
            (2023, day(2023, 4, 29)),
            (2024, day(2024, 4, 18)),
            (2025, day(2025, 4, 7)),
            (2026, day(2026, 4, 26)),
            (2027, day(2027, 4, 16)),
        ];
        for (y, d) in hung {
            assert_eq!(solar_day(10, 3, y), d, "Hùng Kings {y}");
        }
    }

    #[test]
    fn a_leap_month_before_the_third_moves_it() {
        // 2023 had a leap 2nd month: 10/3 came 3 new moons after Tết
        // (2023-04-29, above). 2020's leap 4th month, after it, does not
        // move it: 2020-04-02.
        assert_eq!(solar_day(10, 3, 2020), day(2020, 4, 2));
    }
}

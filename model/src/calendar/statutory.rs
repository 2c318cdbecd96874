//! The days off the law fixes, for a year whose arrangement the government
//! has not announced (or that the days files do not hold): hoso counts
//! deadlines in backfilled years and in years to come with them instead of
//! the bare weekly rule.
//!
//! The holidays (Labour Code 2019, Art. 112(1), as the civil service keeps
//! them): 1 January; Tết, five days (the Code's "the government decides"
//! projected as the last day of the lunar year and mùng 1-4); the Hùng
//! Kings' day, 10/3 lunar; 30 April; 1 May; 2 September and one day next
//! to it; 24 November from 2026 (Resolution 28/2026/QH16). Earlier codes
//! are followed for earlier years: Tết was four days (the eve and mùng
//! 1-3) before the Labour Code 2012 (so until 2012), the Hùng Kings' day
//! a holiday from 2007, the day next to 2 September from 2021.
//!
//! The day next to 2 September is the one that joins a weekend or the
//! nearer working day, as every announced year since 2021 chose it: the
//! day after on a Monday, Thursday or Sunday, the day before otherwise.
//! A holiday on a Saturday or Sunday gives a day off in lieu on the next
//! working day after the holidays it belongs to (Art. 111(3)).
//!
//! An announced year (its `tet` rows are in a days file) is not projected:
//! its rows are the arrangement, swaps and make-up Saturdays included.

use super::{DayKind, weekday};
use crate::calendar::lunar::solar_day;
use crate::time::days_from_civil;

/// The projected days off of Gregorian `year`, sorted.
pub fn days_off(year: i32) -> Vec<(i32, DayKind)> {
    let civil = |m: u32, d: u32| days_from_civil(i64::from(year), m, d) as i32;
    let mut blocks: Vec<Vec<(i32, DayKind)>> = Vec::new();
    blocks.push(vec![(civil(1, 1), DayKind::Holiday)]);
    let tet = solar_day(1, 1, year);
    // The eve and mùng 1-4 (mùng 1-3 before 2013).
    let tet_days = if year >= 2013 { 3 } else { 2 };
    blocks.push(
        (tet - 1..=tet + tet_days)
            .map(|d| (d, DayKind::Tet))
            .collect(),
    );
    if year >= 2007 {
        blocks.push(vec![(solar_day(10, 3, year), DayKind::Holiday)]);
    }
    blocks.push(vec![
        (civil(4, 30), DayKind::Holiday),
        (civil(5, 1), DayKind::Holiday),
    ]);
    let national = civil(9, 2);
    let mut block = vec![(national, DayKind::Holiday)];
    if year >= 2021 {
        // Monday 0 ... Sunday 6.
        let next = match weekday(national) {
            0 | 3 | 6 => national + 1,
            _ => national - 1,
        };
        block.push((next, DayKind::Holiday));
        block.sort_unstable_by_key(|(d, _)| *d);
    }
    blocks.push(block);
    if year >= 2026 {
        blocks.push(vec![(civil(11, 24), DayKind::Holiday)]);
    }
    let mut out: Vec<(i32, DayKind)> = blocks.iter().flatten().copied().collect();
    let taken = |out: &[(i32, DayKind)], d: i32| out.iter().any(|(x, _)| *x == d);
    for block in &blocks {
        let weekend = block.iter().filter(|(d, _)| weekday(*d) >= 5).count();
        let mut d = block.last().map_or(0, |(d, _)| *d);
        for _ in 0..weekend {
            d += 1;
            while weekday(d) >= 5 || taken(&out, d) {
                d += 1;
            }
            out.push((d, DayKind::SubstituteDayOff));
        }
    }
    out.sort_unstable_by_key(|(d, _)| *d);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> i32 {
        days_from_civil(i64::from(y), m, d) as i32
    }

    fn kind_of(year: i32, d: i32) -> Option<DayKind> {
        days_off(year)
            .into_iter()
            .find(|(x, _)| *x == d)
            .map(|(_, k)| k)
    }

    #[test]
    fn a_projected_year_holds_every_statutory_holiday() {
        let y = 2028;
        let tet = solar_day(1, 1, y);
        assert_eq!(tet, day(2028, 1, 26), "Tết Mậu Thân");
        for d in tet - 1..=tet + 3 {
            assert_eq!(kind_of(y, d), Some(DayKind::Tet));
        }
        assert_eq!(kind_of(y, tet + 4), None, "five days of Tết, no more");
        for d in [
            day(y, 1, 1),
            solar_day(10, 3, y),
            day(y, 4, 30),
            day(y, 5, 1),
            day(y, 9, 2),
            day(y, 11, 24),
        ] {
            assert_eq!(kind_of(y, d), Some(DayKind::Holiday), "day {d}");
        }
        // 2/9/2028 is a Saturday: Friday 1/9 joins it.
        assert_eq!(kind_of(y, day(y, 9, 1)), Some(DayKind::Holiday));
        assert_eq!(kind_of(y, day(y, 9, 3)), None);
    }

    #[test]
    fn weekend_holidays_give_days_in_lieu_after_their_block() {
        let y = 2028;
        // 1/1 is a Saturday: Monday 3/1. Tết 25-29/1 ends on a Saturday:
        // Monday 31/1. 30/4 is a Sunday, 1/5 a Monday: Tuesday 2/5. 2/9
        // is a Saturday: Monday 4/9.
        for (m, d) in [(1, 3), (1, 31), (5, 2), (9, 4)] {
            assert_eq!(
                kind_of(y, day(y, m, d)),
                Some(DayKind::SubstituteDayOff),
                "{y}-{m:02}-{d:02}"
            );
        }
    }

    #[test]
    fn earlier_years_follow_the_codes_of_their_time() {
        // 2010: Tết (mùng 1 on Sunday 14/2) was the eve and mùng 1-3,
        // 13-16/2, with two days in lieu for its weekend: 17-18/2; no day
        // next to 2/9 (a Thursday).
        let tet = solar_day(1, 1, 2010);
        assert_eq!(tet, day(2010, 2, 14));
        for d in 13..=16 {
            assert_eq!(kind_of(2010, day(2010, 2, d)), Some(DayKind::Tet), "{d}/2");
        }
        for d in 17..=18 {
            assert_eq!(
                kind_of(2010, day(2010, 2, d)),
                Some(DayKind::SubstituteDayOff)
            );
        }
        assert_eq!(kind_of(2010, day(2010, 2, 19)), None);
        assert_eq!(kind_of(2010, day(2010, 9, 3)), None);
        assert_eq!(kind_of(2010, day(2010, 9, 1)), None);
        // The Hùng Kings' day is a holiday from 2007.
        assert_eq!(kind_of(2005, solar_day(10, 3, 2005)), None);
        assert_eq!(
            kind_of(2008, solar_day(10, 3, 2008)),
            Some(DayKind::Holiday)
        );
        // 24/11 from 2026.
        assert_eq!(kind_of(2025, day(2025, 11, 24)), None);
    }
}

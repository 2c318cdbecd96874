//! Working days and working hours of Vietnam's civil service.
//!
//! The week is Monday to Friday; Saturday and Sunday are off. The days that
//! differ (holidays, Tết, days off in lieu, swapped days off, and the
//! Saturdays worked in exchange) are data, `data/vn_days_off.csv`, with the
//! source of every row; operators add theirs in the same format
//! ([`Calendar::with_days`]). A year those files hold no arrangement for
//! (no `tet` row) gets the days off the law fixes ([`statutory`]), lunar
//! dates computed ([`lunar`]), with the files' rows on top. Every deadline
//! in Vietnam is counted in these working days.
//!
//! Days are local day numbers (days since 1970-01-01 in UTC+7, as
//! [`crate::time::local_day`] gives); times are UTC milliseconds. Counting
//! uses a prefix sum of working days over 2000..=2100, so a count over any
//! span is two lookups; outside that range only the weekly rule applies.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub mod lunar;
pub mod statutory;

use crate::time::{DAY_MS, LOCAL_OFFSET_MS, days_from_civil, local_day};

/// The built-in days: Vietnam's announced arrangements, 2024-2027 (see the
/// file's header); other years are projected ([`statutory`]).
pub const VN_DAYS_OFF: &str = include_str!("../data/vn_days_off.csv");

/// How a listed day differs from the weekly rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    Holiday,
    Tet,
    SubstituteDayOff,
    SwapDayOff,
    /// A Saturday worked in exchange for a swapped day off.
    MakeUpWorkingSaturday,
}

impl DayKind {
    fn parse(s: &str) -> Option<DayKind> {
        Some(match s {
            "holiday" => DayKind::Holiday,
            "tet" => DayKind::Tet,
            "substitute_day_off" => DayKind::SubstituteDayOff,
            "swap_day_off" => DayKind::SwapDayOff,
            "make_up_working_saturday" => DayKind::MakeUpWorkingSaturday,
            _ => return None,
        })
    }

    pub fn is_day_off(self) -> bool {
        self != DayKind::MakeUpWorkingSaturday
    }
}

/// A row of a days file that cannot be read, or working hours that make
/// no sense.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarError {
    /// Line of the days file; 0 for the working hours.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(&self.message),
            n => write!(f, "line {n}: {}", self.message),
        }
    }
}

impl std::error::Error for CalendarError {}

/// Working hours of a day, as (start, end) minutes after local midnight.
pub const DEFAULT_HOURS: [(u32, u32); 2] = [(7 * 60 + 30, 11 * 60 + 30), (13 * 60, 17 * 60)];

/// A same-day procedure received after this (minutes after local midnight,
/// 15:00) is due the next working day: the rule Decree 23/2015/NĐ-CP Art.
/// 7(1) states for certification ("nếu tiếp nhận yêu cầu sau 15 giờ").
/// It is only the default: `calendar.same_day_cutoff` sets another, and a
/// catalogue row's `same_day_cutoff` sets its procedure's own (see
/// `docs/kpis.md`).
pub const DEFAULT_SAME_DAY_CUTOFF_MIN: u32 = 15 * 60;

/// First and last day of the prefix table.
fn table_range() -> (i32, i32) {
    (
        days_from_civil(2000, 1, 1) as i32,
        days_from_civil(2100, 12, 31) as i32,
    )
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    days: BTreeMap<i32, DayKind>,
    /// Working windows of a working day, minutes after local midnight,
    /// sorted and disjoint.
    hours: Vec<(u32, u32)>,
    /// Minutes after local midnight past which a same-day filing is due
    /// the next working day.
    same_day_cutoff_min: u32,
    /// `prefix[i]`: working days in `[first, first + i)`.
    prefix: Vec<u32>,
    first: i32,
    /// Years whose arrangement a days file gives (it lists their Tết).
    announced: BTreeSet<i32>,
}

/// Monday = 0 ... Sunday = 6; day 0 (1970-01-01) was a Thursday.
pub fn weekday(day: i32) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

impl Calendar {
    /// Vietnam's civil-service calendar with the built-in days and hours.
    pub fn vietnam() -> Calendar {
        Calendar::with_days(&[VN_DAYS_OFF], DEFAULT_HOURS.to_vec())
            .expect("the built-in days file is valid")
    }

    /// A calendar from days files (later files, and later rows, win for
    /// the same date) and working windows. Years of the table (2000-2100)
    /// that no file gives a Tết for get the statutory days off, under the
    /// files' rows.
    pub fn with_days(files: &[&str], hours: Vec<(u32, u32)>) -> Result<Calendar, CalendarError> {
        let mut listed = Vec::new();
        for text in files {
            listed.extend(parse_days(text)?);
        }
        let (first, last) = table_range();
        let announced: BTreeSet<i32> = listed
            .iter()
            .filter(|(_, k)| *k == DayKind::Tet)
            .map(|(d, _)| year_of(*d))
            .collect();
        let mut days = BTreeMap::new();
        for year in year_of(first)..=year_of(last) {
            if !announced.contains(&year) {
                days.extend(statutory::days_off(year));
            }
        }
        days.extend(listed);
        let mut hours = hours;
        hours.sort_unstable();
        if let Some(w) = hours.windows(2).find(|w| w[0].1 > w[1].0) {
            return Err(CalendarError {
                line: 0,
                message: format!(
                    "working hours {} and {} overlap",
                    format_window(w[0]),
                    format_window(w[1])
                ),
            });
        }
        if let Some(w) = hours.iter().find(|(s, e)| s >= e || *e > 24 * 60) {
            return Err(CalendarError {
                line: 0,
                message: format!(
                    "working hours {} are not a window of one day",
                    format_window(*w)
                ),
            });
        }
        let mut cal = Calendar {
            days,
            hours,
            same_day_cutoff_min: DEFAULT_SAME_DAY_CUTOFF_MIN,
            prefix: Vec::new(),
            first,
            announced,
        };
        let mut prefix = Vec::with_capacity((last - first + 2) as usize);
        let mut n = 0u32;
        prefix.push(0);
        for d in first..=last {
            n += u32::from(cal.rule(d));
            prefix.push(n);
        }
        cal.prefix = prefix;
        Ok(cal)
    }

    /// A days file gives the arrangement of `year` (its Tết is listed);
    /// otherwise its days off are the statutory projection, which the
    /// government's notice for that year may change (swaps, a longer Tết).
    pub fn is_announced_year(&self, year: i32) -> bool {
        self.announced.contains(&year)
    }

    /// [`Calendar::is_announced_year`] of the year of local `day`.
    pub fn is_announced_day(&self, day: i32) -> bool {
        self.is_announced_year(year_of(day))
    }

    /// The same calendar with another same-day cutoff.
    pub fn with_same_day_cutoff(mut self, minutes: u32) -> Calendar {
        self.same_day_cutoff_min = minutes;
        self
    }

    pub fn same_day_cutoff_min(&self) -> u32 {
        self.same_day_cutoff_min
    }

    /// The working windows of a working day.
    pub fn hours(&self) -> &[(u32, u32)] {
        &self.hours
    }

    /// Working time in one working day, milliseconds (8 h by default).
    pub fn working_ms_per_day(&self) -> i64 {
        self.hours
            .iter()
            .map(|(s, e)| i64::from(e - s) * 60_000)
            .sum()
    }

    /// The first working day after `day`.
    pub fn next_working_day(&self, day: i32) -> i32 {
        let mut d = day + 1;
        // A year without a working day would be a broken days file; stop
        // looking after one.
        while !self.is_working_day(d) && d < day + 366 {
            d += 1;
        }
        d
    }

    /// The end of `day`'s last working window (its midnight when there are
    /// no working hours).
    pub fn close_of(&self, day: i32) -> i64 {
        let close = self.hours.last().map_or(0, |w| w.1);
        i64::from(day) * DAY_MS - LOCAL_OFFSET_MS + i64::from(close) * 60_000
    }

    /// The instant `dur_ms` of working time after `from_ms`: the clock runs
    /// only inside the working windows of working days. A start outside
    /// them begins at the next window.
    pub fn add_working_time(&self, from_ms: i64, dur_ms: i64) -> i64 {
        let per_day = self.working_ms_per_day();
        if dur_ms <= 0 || per_day == 0 {
            return from_ms;
        }
        let mut left = dur_ms;
        let mut day = local_day(from_ms);
        let mut t = from_ms;
        loop {
            let midnight = i64::from(day) * DAY_MS - LOCAL_OFFSET_MS;
            if self.is_working_day(day) {
                for (s, e) in &self.hours {
                    let (ws, we) = (
                        midnight + i64::from(*s) * 60_000,
                        midnight + i64::from(*e) * 60_000,
                    );
                    let start = t.max(ws);
                    if start < we {
                        if left <= we - start {
                            return start + left;
                        }
                        left -= we - start;
                    }
                }
            }
            day += 1;
            t = midnight + DAY_MS;
        }
    }

    /// The earliest instant from which at most `window_ms` of working time
    /// is left before `due_ms`: when a filing due then becomes at risk.
    /// Working time left is constant across a gap (a night, a weekend), so
    /// the instant is the end of a working window when the window's limit
    /// falls on a window's start. `due_ms` itself when `window_ms` <= 0.
    pub fn at_risk_from(&self, due_ms: i64, window_ms: i64) -> i64 {
        if window_ms <= 0 || self.working_ms_per_day() == 0 {
            return due_ms;
        }
        let mut left = window_ms;
        let mut day = local_day(due_ms);
        let mut t = due_ms;
        // Ten years of days off in a row would be a broken calendar.
        for _ in 0..3660 {
            let midnight = i64::from(day) * DAY_MS - LOCAL_OFFSET_MS;
            if self.is_working_day(day) {
                for (s, e) in self.hours.iter().rev() {
                    let (ws, we) = (
                        midnight + i64::from(*s) * 60_000,
                        midnight + i64::from(*e) * 60_000,
                    );
                    let end = t.min(we);
                    if end <= ws {
                        continue;
                    }
                    if left == 0 {
                        // The window used up exactly; back to the end of
                        // the working window before it.
                        return end;
                    }
                    if left < end - ws {
                        return end - left;
                    }
                    left -= end - ws;
                }
            }
            day -= 1;
            t = midnight;
        }
        due_ms.saturating_sub(window_ms)
    }

    fn rule(&self, day: i32) -> bool {
        match self.days.get(&day) {
            Some(k) => !k.is_day_off(),
            None => weekday(day) < 5,
        }
    }

    /// How the listed `day` differs from the weekly rule, if it does.
    pub fn kind(&self, day: i32) -> Option<DayKind> {
        self.days.get(&day).copied()
    }

    pub fn is_working_day(&self, day: i32) -> bool {
        self.rule(day)
    }

    /// Working days in `[first, day)`, from the table when it covers it.
    fn count_before(&self, day: i32) -> i64 {
        let last = self.first + self.prefix.len() as i32 - 1;
        let clamped = day.clamp(self.first, last);
        let mut n = i64::from(self.prefix[(clamped - self.first) as usize]);
        // Outside the table, the weekly rule (and any listed day) applies.
        let (from, to, sign) = if day < self.first {
            (day, self.first, -1)
        } else {
            (last, day, 1)
        };
        if from < to {
            n += sign * self.slow_count(from, to);
        }
        n
    }

    /// Working days in `[from, to)`, day by day (whole weeks at once).
    fn slow_count(&self, from: i32, to: i32) -> i64 {
        let weeks = i64::from((to - from) / 7);
        let mut n = weeks * 5;
        for d in (from + (weeks as i32) * 7)..to {
            n += i64::from(weekday(d) < 5);
        }
        // Listed days in the span correct the weekly rule.
        for (d, k) in self.days.range(from..to) {
            let by_week = weekday(*d) < 5;
            n += i64::from(!k.is_day_off()) - i64::from(by_week);
        }
        n
    }

    /// The working days `d` with `start < d <= end`; negative when `end`
    /// is before `start`.
    pub fn working_days_between(&self, start: i32, end: i32) -> i64 {
        self.count_before(end + 1) - self.count_before(start + 1)
    }

    /// The same local time on the `n`-th working day after (`n < 0`:
    /// before) the local day of `ts_ms`; `n = 0` is `ts_ms` itself.
    pub fn add_working_days(&self, ts_ms: i64, n: i64) -> i64 {
        if n == 0 {
            return ts_ms;
        }
        let day = local_day(ts_ms);
        let step = if n > 0 { 1 } else { -1 };
        let mut d = day;
        let mut left = n.abs();
        // Day by day: deadlines are days or weeks away.
        while left > 0 {
            d += step;
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        ts_ms + i64::from(d - day) * DAY_MS
    }

    /// Working time, in milliseconds, from `from_ms` to `to_ms` (negative
    /// when `to_ms` is earlier): only the working windows of working days
    /// count.
    pub fn working_ms_between(&self, from_ms: i64, to_ms: i64) -> i64 {
        if to_ms < from_ms {
            return -self.working_ms_between(to_ms, from_ms);
        }
        let (a, b) = (local_day(from_ms), local_day(to_ms));
        let per_day: i64 = self
            .hours
            .iter()
            .map(|(s, e)| i64::from(e.saturating_sub(*s)) * 60_000)
            .sum();
        let part = |day: i32, lo: i64, hi: i64| -> i64 {
            if !self.is_working_day(day) {
                return 0;
            }
            let midnight = i64::from(day) * DAY_MS - LOCAL_OFFSET_MS;
            self.hours
                .iter()
                .map(|(s, e)| {
                    let ws = midnight + i64::from(*s) * 60_000;
                    let we = midnight + i64::from(*e) * 60_000;
                    (hi.min(we) - lo.max(ws)).max(0)
                })
                .sum()
        };
        if a == b {
            return part(a, from_ms, to_ms);
        }
        let first = part(a, from_ms, i64::MAX);
        let last = part(b, i64::MIN, to_ms);
        let middle = self.working_days_between(a, b - 1) * per_day;
        first + middle + last
    }

    /// [`Calendar::working_ms_between`] in hours.
    pub fn working_hours_between(&self, from_ms: i64, to_ms: i64) -> f64 {
        self.working_ms_between(from_ms, to_ms) as f64 / 3_600_000.0
    }
}

/// The Gregorian year of local `day`.
pub fn year_of(day: i32) -> i32 {
    crate::time::civil_from_days(i64::from(day)).0 as i32
}

fn format_window((s, e): (u32, u32)) -> String {
    format!("{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60)
}

/// Parses `HH:MM` (or `HH:MM:00`, as TOML writes a bare time) into minutes
/// after midnight (24:00 allowed).
pub fn parse_clock(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .strip_suffix(":00")
        .filter(|r| r.contains(':'))
        .unwrap_or(s);
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h * 60 + m <= 24 * 60 && m < 60).then_some(h * 60 + m)
}

/// Parses a working window `HH:MM-HH:MM`.
pub fn parse_window(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let w = (parse_clock(a)?, parse_clock(b)?);
    (w.0 < w.1).then_some(w)
}

/// Checks one days file on its own, so an error can name the file.
pub fn check_days_file(text: &str) -> Result<(), CalendarError> {
    parse_days(text).map(|_| ())
}

/// Rows of a days file: `date,kind,...` (more columns are notes); `#`
/// comments, blank lines and the header row are skipped.
fn parse_days(text: &str) -> Result<Vec<(i32, DayKind)>, CalendarError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("date,") {
            continue;
        }
        let err = |message: String| CalendarError {
            line: i + 1,
            message,
        };
        let mut cols = line.splitn(3, ',');
        let date = cols.next().unwrap_or_default().trim();
        let kind = cols.next().unwrap_or_default().trim();
        let day =
            parse_date(date).ok_or_else(|| err(format!("{date:?} is not a YYYY-MM-DD date")))?;
        let kind = DayKind::parse(kind).ok_or_else(|| {
            err(format!(
                "{kind:?} is not a kind (holiday, tet, substitute_day_off, swap_day_off, make_up_working_saturday)"
            ))
        })?;
        if kind == DayKind::MakeUpWorkingSaturday && weekday(day) != 5 {
            return Err(err(format!("{date} is not a Saturday")));
        }
        out.push((day, kind));
    }
    Ok(out)
}

fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d == 0 || d > crate::time::days_in_month(i64::from(y), m) {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d) as i32)
}

#[cfg(test)]
mod tests;

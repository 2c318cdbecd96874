//! The procedure catalogue: what each administrative procedure (thủ tục
//! hành chính) promises: its statutory deadline in working days, calendar
//! days or the same day, its fee, whether it can be done online, which level of center
//! takes it.
//!
//! The built-in catalogue is data, `data/procedures.csv`, with the legal
//! source of every row; operators extend or override it with files in the
//! same format (later files win for the same code). Its one job on the data
//! path: when a source system sends a `received` event without `due_at`,
//! [`DueRules`] computes the appointment date from the procedure's deadline
//! and the working-day [`Calendar`], and the filing is marked as having a
//! computed due date.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use crate::calendar::Calendar;
use crate::time::{DAY_MS, LOCAL_OFFSET_MS, local_day};

/// The built-in catalogue (see the file's header for its sources).
const BUILTIN: &str = include_str!("../data/procedures.csv");

/// The columns every catalogue file starts with, in order.
pub const COLUMNS: [&str; 8] = [
    "code", "name_vi", "name_en", "deadline", "fee_vnd", "online", "level", "source",
];

/// Columns a file may add after [`COLUMNS`], in this order (a file written
/// before they existed, with only the first eight, still reads):
/// `deadline_unit` is `working_days` (the default) or `calendar_days`;
/// `same_day_cutoff` is the `HH:MM` after which a same-day procedure is due
/// the next working day, empty for the calendar's default.
pub const OPTIONAL_COLUMNS: [&str; 2] = ["deadline_unit", "same_day_cutoff"];

/// How long a procedure may take (thời hạn giải quyết).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Deadline {
    /// Resolved on the day of receipt; received after the same-day cutoff
    /// (the procedure's, else the calendar's), on the next working day.
    SameDay,
    /// This many working days of working time after receipt.
    WorkingDays(u16),
    /// This many calendar days after the day of receipt (the judicial
    /// record certificate's 10 days): the period ends at the close of its
    /// last day, moved to the next working day when that is a day off
    /// (Civil Code 2015, Art. 147-148).
    CalendarDays(u16),
}

impl Deadline {
    fn parse(s: &str, unit: &str) -> Option<Deadline> {
        match (s, unit) {
            ("same_day", _) => Some(Deadline::SameDay),
            (n, "working_days" | "") => match n.parse::<u16>() {
                Ok(d) if d > 0 => Some(Deadline::WorkingDays(d)),
                _ => None,
            },
            (n, "calendar_days") => match n.parse::<u16>() {
                Ok(d) if d > 0 => Some(Deadline::CalendarDays(d)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Working days; `Some(0)` for the same day, `None` for a deadline in
    /// calendar days.
    pub fn working_days(self) -> Option<u16> {
        match self {
            Deadline::SameDay => Some(0),
            Deadline::WorkingDays(n) => Some(n),
            Deadline::CalendarDays(_) => None,
        }
    }

    /// Calendar days, for a deadline counted in them.
    pub fn calendar_days(self) -> Option<u16> {
        match self {
            Deadline::CalendarDays(n) => Some(n),
            _ => None,
        }
    }

    /// `working_days` or `calendar_days` (a same-day deadline is counted on
    /// working days).
    pub const fn unit(self) -> &'static str {
        match self {
            Deadline::CalendarDays(_) => "calendar_days",
            _ => "working_days",
        }
    }

    /// The appointment date (ngày hẹn trả) of a filing received at
    /// `received_ms`.
    ///
    /// - Same day: the close of the day of receipt when that is a working
    ///   day and the filing came before the cutoff; else the close of the
    ///   next working day.
    /// - N working days: N days of working time after receipt, so a filing
    ///   received on Monday at 09:00 with 3 days is due on Thursday at
    ///   09:00; one received outside working hours starts at the next
    ///   working window.
    /// - N calendar days: the period starts the day after receipt and ends
    ///   at the close of its Nth day; when that day is a day off, at the
    ///   close of the next working day.
    ///
    /// `cutoff_min` is the procedure's own same-day cutoff (minutes after
    /// local midnight), `None` for the calendar's.
    pub fn due_at(self, calendar: &Calendar, received_ms: i64, cutoff_min: Option<u16>) -> i64 {
        match self {
            Deadline::SameDay => {
                let day = local_day(received_ms);
                let minute = (received_ms + LOCAL_OFFSET_MS).rem_euclid(DAY_MS) / 60_000;
                let cutoff = cutoff_min.map_or(calendar.same_day_cutoff_min(), u32::from);
                let in_time = minute < i64::from(cutoff);
                if calendar.is_working_day(day) && in_time {
                    calendar.close_of(day)
                } else {
                    calendar.close_of(calendar.next_working_day(day))
                }
            }
            Deadline::WorkingDays(n) => {
                calendar.add_working_time(received_ms, i64::from(n) * calendar.working_ms_per_day())
            }
            Deadline::CalendarDays(n) => {
                let last = local_day(received_ms) + i32::from(n);
                if calendar.is_working_day(last) {
                    calendar.close_of(last)
                } else {
                    calendar.close_of(calendar.next_working_day(last))
                }
            }
        }
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deadline::SameDay => f.write_str("same_day"),
            Deadline::WorkingDays(n) | Deadline::CalendarDays(n) => write!(f, "{n}"),
        }
    }
}

/// How far a procedure can be done online.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Online {
    /// Dịch vụ công trực tuyến toàn trình: entirely online.
    Full,
    /// Một phần: filed online, finished in person.
    Partial,
    None,
}

impl Online {
    fn parse(s: &str) -> Option<Online> {
        Some(match s {
            "full" => Online::Full,
            "partial" => Online::Partial,
            "none" => Online::None,
            _ => return None,
        })
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Online::Full => "full",
            Online::Partial => "partial",
            Online::None => "none",
        }
    }
}

/// Which center usually takes the procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Commune,
    Province,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "commune" => Level::Commune,
            "province" => Level::Province,
            _ => return None,
        })
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Commune => "commune",
            Level::Province => "province",
        }
    }
}

/// One row of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Procedure {
    /// National procedure code (mã thủ tục), e.g. `1.001193`.
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub deadline: Deadline,
    /// Fee or charge of the common case, VND; 0 when free.
    pub fee_vnd: u64,
    pub online: Online,
    pub level: Level,
    /// The legal basis of the deadline and fee.
    pub source: String,
    /// The procedure's own same-day cutoff, minutes after local midnight;
    /// `None` for the calendar's.
    pub same_day_cutoff_min: Option<u16>,
}

/// A catalogue file that cannot be read: which line and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CatalogueError {
    pub line: usize,
    pub message: String,
}

/// Procedures by code, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalogue {
    procedures: Vec<Procedure>,
    by_code: HashMap<String, usize>,
}

impl Catalogue {
    /// The built-in catalogue.
    pub fn builtin() -> Catalogue {
        Catalogue::from_texts(&[BUILTIN]).expect("the built-in catalogue is valid")
    }

    /// The built-in catalogue extended by operator files (their texts);
    /// a later row replaces an earlier one with the same code.
    pub fn builtin_with(texts: &[&str]) -> Result<Catalogue, (usize, CatalogueError)> {
        let mut all = vec![BUILTIN];
        all.extend_from_slice(texts);
        Catalogue::from_texts(&all).map_err(|(i, e)| (i - 1, e))
    }

    /// A catalogue from file texts; the error names the text (by index)
    /// and its line.
    pub fn from_texts(texts: &[&str]) -> Result<Catalogue, (usize, CatalogueError)> {
        let mut cat = Catalogue::default();
        for (i, text) in texts.iter().enumerate() {
            for p in parse(text).map_err(|e| (i, e))? {
                cat.insert(p);
            }
        }
        Ok(cat)
    }

    fn insert(&mut self, p: Procedure) {
        match self.by_code.get(&p.code) {
            Some(&i) => self.procedures[i] = p,
            None => {
                self.by_code.insert(p.code.clone(), self.procedures.len());
                self.procedures.push(p);
            }
        }
    }

    /// The procedure a code names: the code itself, or, for the long
    /// public form (`1.001193.000.00.00.H35`), its base code.
    pub fn get(&self, code: &str) -> Option<&Procedure> {
        let at = |c: &str| self.by_code.get(c).map(|&i| &self.procedures[i]);
        at(code).or_else(|| at(base_code(code)))
    }

    pub fn procedures(&self) -> &[Procedure] {
        &self.procedures
    }

    pub fn len(&self) -> usize {
        self.procedures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procedures.is_empty()
    }
}

/// How hoso fills a missing `due_at`: the catalogue's deadline counted on
/// the calendar. Ingest and the processor share one, so both decide alike.
#[derive(Clone, Debug, PartialEq)]
pub struct DueRules {
    pub catalogue: Arc<Catalogue>,
    pub calendar: Arc<Calendar>,
}

impl DueRules {
    pub fn new(catalogue: Arc<Catalogue>, calendar: Arc<Calendar>) -> DueRules {
        DueRules {
            catalogue,
            calendar,
        }
    }

    /// The built-in catalogue on Vietnam's calendar (built once, shared).
    pub fn vietnam() -> DueRules {
        static VN: LazyLock<DueRules> = LazyLock::new(|| {
            DueRules::new(
                Arc::new(Catalogue::builtin()),
                Arc::new(Calendar::vietnam()),
            )
        });
        VN.clone()
    }

    /// The due date of `procedure` received at `received_ms`, when the
    /// catalogue knows the procedure.
    pub fn due_at(&self, procedure: &str, received_ms: i64) -> Option<i64> {
        let p = self.catalogue.get(procedure)?;
        Some(
            p.deadline
                .due_at(&self.calendar, received_ms, p.same_day_cutoff_min),
        )
    }
}

/// The base code of a procedure code: the national code (`1.001193`) of
/// the long public form the portal and provincial systems send
/// (`1.001193.000.00.00.H35`: the national code, then the implementing
/// level and agency). Any other code is its own base.
pub fn base_code(code: &str) -> &str {
    let mut parts = code.splitn(3, '.');
    let (Some(a), Some(b), Some(_rest)) = (parts.next(), parts.next(), parts.next()) else {
        return code;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(a) && b.len() == 6 && digits(b) {
        &code[..a.len() + 1 + b.len()]
    } else {
        code
    }
}

/// The rows of one catalogue file. `#` lines and blank lines are skipped;
/// the first other line must be the header [`COLUMNS`].
fn parse(text: &str) -> Result<Vec<Procedure>, CatalogueError> {
    let mut out = Vec::new();
    let mut header = false;
    let mut width = COLUMNS.len();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: String| CatalogueError {
            line: i + 1,
            message,
        };
        let cols = split_csv(line).map_err(|m| err(m.into()))?;
        if !header {
            let extra = cols.len().saturating_sub(COLUMNS.len());
            if cols.len() < COLUMNS.len()
                || cols[..COLUMNS.len()] != COLUMNS
                || extra > OPTIONAL_COLUMNS.len()
                || cols[COLUMNS.len()..] != OPTIONAL_COLUMNS[..extra]
            {
                return Err(err(format!(
                    "the header must be `{}`, optionally followed by `{}`",
                    COLUMNS.join(","),
                    OPTIONAL_COLUMNS.join(",")
                )));
            }
            width = cols.len();
            header = true;
            continue;
        }
        if cols.len() != width {
            return Err(err(format!(
                "{} columns, expected {width} (as the header)",
                cols.len()
            )));
        }
        let opt = |i: usize| cols.get(COLUMNS.len() + i).map_or("", |c| c.trim());
        let code = cols[0].trim();
        if code.is_empty() || code.len() > 64 {
            return Err(err("code must be 1..64 characters".into()));
        }
        let unit = opt(0);
        if !matches!(unit, "" | "working_days" | "calendar_days") {
            return Err(err(format!(
                "deadline_unit {unit:?} must be working_days or calendar_days"
            )));
        }
        let deadline = Deadline::parse(cols[3].trim(), unit).ok_or_else(|| {
            err(format!(
                "deadline {:?} must be `same_day` or a positive number of days",
                cols[3]
            ))
        })?;
        let same_day_cutoff_min = match opt(1) {
            "" => None,
            c => Some(parse_clock(c).ok_or_else(|| {
                err(format!("same_day_cutoff {c:?} must be HH:MM (00:00-23:59)"))
            })?),
        };
        let fee_vnd = cols[4].trim().parse().map_err(|_| {
            err(format!(
                "fee_vnd {:?} must be a whole number of VND",
                cols[4]
            ))
        })?;
        let online = Online::parse(cols[5].trim()).ok_or_else(|| {
            err(format!(
                "online {:?} must be one of full, partial, none",
                cols[5]
            ))
        })?;
        let level = Level::parse(cols[6].trim())
            .ok_or_else(|| err(format!("level {:?} must be commune or province", cols[6])))?;
        out.push(Procedure {
            code: code.to_string(),
            name_vi: cols[1].trim().to_string(),
            name_en: cols[2].trim().to_string(),
            deadline,
            fee_vnd,
            online,
            level,
            source: cols[7].trim().to_string(),
            same_day_cutoff_min,
        });
    }
    if !header {
        return Err(CatalogueError {
            line: 0,
            message: format!("no header row `{}`", COLUMNS.join(",")),
        });
    }
    Ok(out)
}

/// `HH:MM` as minutes after midnight.
fn parse_clock(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some(h * 60 + m)
}

/// One CSV line (RFC 4180 quoting, no line breaks inside fields).
fn split_csv(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err("a quote inside an unquoted field"),
            (false, ',') => {
                out.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed");
    }
    out.push(field);
    Ok(out)
}

#[cfg(test)]
mod tests;

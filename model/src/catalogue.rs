//! The procedure catalogue: what each administrative procedure (thủ tục
//! hành chính) promises: its statutory deadline in working days (or the
//! same day), its fee, whether it can be done online, which level of center
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

/// The columns of a catalogue file, in order.
pub const COLUMNS: [&str; 8] = [
    "code", "name_vi", "name_en", "deadline", "fee_vnd", "online", "level", "source",
];

/// How long a procedure may take (thời hạn giải quyết).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Deadline {
    /// Resolved on the day of receipt; received after the calendar's
    /// same-day cutoff (15:00), on the next working day.
    SameDay,
    /// This many working days of working time after receipt.
    WorkingDays(u16),
}

impl Deadline {
    fn parse(s: &str) -> Option<Deadline> {
        match s {
            "same_day" => Some(Deadline::SameDay),
            n => match n.parse::<u16>() {
                Ok(d) if d > 0 => Some(Deadline::WorkingDays(d)),
                _ => None,
            },
        }
    }

    /// Working days, 0 for the same day.
    pub fn working_days(self) -> u16 {
        match self {
            Deadline::SameDay => 0,
            Deadline::WorkingDays(n) => n,
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
    pub fn due_at(self, calendar: &Calendar, received_ms: i64) -> i64 {
        match self {
            Deadline::SameDay => {
                let day = local_day(received_ms);
                let minute = (received_ms + LOCAL_OFFSET_MS).rem_euclid(DAY_MS) / 60_000;
                let in_time = minute < i64::from(calendar.same_day_cutoff_min());
                if calendar.is_working_day(day) && in_time {
                    calendar.close_of(day)
                } else {
                    calendar.close_of(calendar.next_working_day(day))
                }
            }
            Deadline::WorkingDays(n) => {
                calendar.add_working_time(received_ms, i64::from(n) * calendar.working_ms_per_day())
            }
        }
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deadline::SameDay => f.write_str("same_day"),
            Deadline::WorkingDays(n) => write!(f, "{n}"),
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

    pub fn get(&self, code: &str) -> Option<&Procedure> {
        self.by_code.get(code).map(|&i| &self.procedures[i])
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
        Some(p.deadline.due_at(&self.calendar, received_ms))
    }
}

/// The rows of one catalogue file. `#` lines and blank lines are skipped;
/// the first other line must be the header [`COLUMNS`].
fn parse(text: &str) -> Result<Vec<Procedure>, CatalogueError> {
    let mut out = Vec::new();
    let mut header = false;
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
            if cols != COLUMNS {
                return Err(err(format!("the header must be `{}`", COLUMNS.join(","))));
            }
            header = true;
            continue;
        }
        if cols.len() != COLUMNS.len() {
            return Err(err(format!(
                "{} columns, expected {} ({})",
                cols.len(),
                COLUMNS.len(),
                COLUMNS.join(",")
            )));
        }
        let code = cols[0].trim();
        if code.is_empty() || code.len() > 64 {
            return Err(err("code must be 1..64 characters".into()));
        }
        let deadline = Deadline::parse(cols[3].trim()).ok_or_else(|| {
            err(format!(
                "deadline {:?} must be `same_day` or a positive number of working days",
                cols[3]
            ))
        })?;
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

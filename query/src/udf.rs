//! Working-day SQL functions over [`hoso_model::calendar::Calendar`]:
//!
//! - `is_working_day(d)`: boolean;
//! - `working_days_between(start, end)`: the working days `d` with
//!   `start < d <= end`, by local date;
//! - `add_working_days(t, n)`: the same local time `n` working days later
//!   (a date gives a date);
//! - `working_hours_until(t, due)`: working hours from `t` to `due`,
//!   negative once past it.
//!
//! Arguments are dates or timestamps (text is read as a timestamp); a
//! timestamp counts by its local (UTC+7) date, a date by itself.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use hoso_model::calendar::Calendar;
use hoso_model::time::{DAY_MS, LOCAL_OFFSET_MS, local_day};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    IsWorkingDay,
    WorkingDaysBetween,
    AddWorkingDays,
    WorkingHoursUntil,
}

#[derive(Debug)]
struct CalendarUdf {
    kind: Kind,
    signature: Signature,
    calendar: Arc<Calendar>,
}

impl PartialEq for CalendarUdf {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && Arc::ptr_eq(&self.calendar, &other.calendar)
    }
}

impl Eq for CalendarUdf {}

impl std::hash::Hash for CalendarUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

/// The four functions, over `calendar`.
pub fn calendar_functions(calendar: Arc<Calendar>) -> Vec<ScalarUDF> {
    [
        Kind::IsWorkingDay,
        Kind::WorkingDaysBetween,
        Kind::AddWorkingDays,
        Kind::WorkingHoursUntil,
    ]
    .into_iter()
    .map(|kind| {
        ScalarUDF::from(CalendarUdf {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
            calendar: calendar.clone(),
        })
    })
    .collect()
}

fn utc_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// A date stays a date; anything else time-like is read as a timestamp.
fn time_arg(name: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Date32 | DataType::Date64 => Ok(DataType::Date32),
        DataType::Timestamp(_, _)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Null => Ok(utc_ms()),
        other => plan_err!("{name}: expected a date or a timestamp, got {other}"),
    }
}

impl ScalarUDFImpl for CalendarUdf {
    fn name(&self) -> &str {
        match self.kind {
            Kind::IsWorkingDay => "is_working_day",
            Kind::WorkingDaysBetween => "working_days_between",
            Kind::AddWorkingDays => "add_working_days",
            Kind::WorkingHoursUntil => "working_hours_until",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        match (self.kind, args) {
            (Kind::IsWorkingDay, [a]) => Ok(vec![time_arg(name, a)?]),
            (Kind::WorkingDaysBetween | Kind::WorkingHoursUntil, [a, b]) => {
                Ok(vec![time_arg(name, a)?, time_arg(name, b)?])
            }
            (Kind::AddWorkingDays, [a, n]) => {
                if !n.is_integer() && !n.is_null() {
                    return plan_err!("{name}: the number of days must be an integer, got {n}");
                }
                Ok(vec![time_arg(name, a)?, DataType::Int64])
            }
            _ => {
                let want = match self.kind {
                    Kind::IsWorkingDay => "(date or timestamp)",
                    Kind::AddWorkingDays => "(date or timestamp, integer)",
                    _ => "(date or timestamp, date or timestamp)",
                };
                plan_err!("{name} takes {want}, got {} arguments", args.len())
            }
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::IsWorkingDay => DataType::Boolean,
            Kind::WorkingDaysBetween => DataType::Int64,
            Kind::WorkingHoursUntil => DataType::Float64,
            Kind::AddWorkingDays => match args.first() {
                Some(DataType::Date32) => DataType::Date32,
                _ => utc_ms(),
            },
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let c = &self.calendar;
        let out: ArrayRef = match self.kind {
            Kind::IsWorkingDay => {
                let a = Instants::of(&arrays[0])?;
                Arc::new(
                    (0..a.len())
                        .map(|i| a.day(i).map(|d| c.is_working_day(d)))
                        .collect::<BooleanArray>(),
                )
            }
            Kind::WorkingDaysBetween => {
                let (a, b) = (Instants::of(&arrays[0])?, Instants::of(&arrays[1])?);
                Arc::new(
                    (0..a.len())
                        .map(|i| Some(c.working_days_between(a.day(i)?, b.day(i)?)))
                        .collect::<Int64Array>(),
                )
            }
            Kind::WorkingHoursUntil => {
                let (a, b) = (Instants::of(&arrays[0])?, Instants::of(&arrays[1])?);
                Arc::new(
                    (0..a.len())
                        .map(|i| Some(c.working_hours_between(a.ms(i)?, b.ms(i)?)))
                        .collect::<Float64Array>(),
                )
            }
            Kind::AddWorkingDays => {
                let a = Instants::of(&arrays[0])?;
                let n = arrays[1]
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or_else(|| {
                        datafusion::error::DataFusionError::Internal("n is not Int64".into())
                    })?;
                let get = |i: usize| (!n.is_null(i)).then(|| n.value(i));
                match &a {
                    Instants::Dates(d) => Arc::new(
                        (0..d.len())
                            .map(|i| {
                                let (day, n) = ((!d.is_null(i)).then(|| d.value(i))?, get(i)?);
                                let ms = i64::from(day) * DAY_MS - LOCAL_OFFSET_MS;
                                Some(local_day(c.add_working_days(ms, n)))
                            })
                            .collect::<Date32Array>(),
                    ),
                    Instants::Times(_) => Arc::new(
                        (0..a.len())
                            .map(|i| Some(c.add_working_days(a.ms(i)?, get(i)?)))
                            .collect::<TimestampMillisecondArray>()
                            .with_timezone("UTC"),
                    ),
                }
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// An argument after coercion: local dates or UTC milliseconds.
enum Instants<'a> {
    Dates(&'a Date32Array),
    Times(&'a TimestampMillisecondArray),
}

impl<'a> Instants<'a> {
    fn of(array: &'a ArrayRef) -> Result<Self> {
        if let Some(d) = array.as_any().downcast_ref::<Date32Array>() {
            return Ok(Instants::Dates(d));
        }
        if let Some(t) = array.as_any().downcast_ref::<TimestampMillisecondArray>() {
            return Ok(Instants::Times(t));
        }
        Err(datafusion::error::DataFusionError::Internal(format!(
            "calendar function argument of type {}",
            array.data_type()
        )))
    }

    fn len(&self) -> usize {
        match self {
            Instants::Dates(d) => d.len(),
            Instants::Times(t) => t.len(),
        }
    }

    /// The local day.
    fn day(&self, i: usize) -> Option<i32> {
        match self {
            Instants::Dates(d) => (!d.is_null(i)).then(|| d.value(i)),
            Instants::Times(t) => (!t.is_null(i)).then(|| local_day(t.value(i))),
        }
    }

    /// UTC milliseconds; a date is its local midnight.
    fn ms(&self, i: usize) -> Option<i64> {
        match self {
            Instants::Dates(d) => {
                (!d.is_null(i)).then(|| i64::from(d.value(i)) * DAY_MS - LOCAL_OFFSET_MS)
            }
            Instants::Times(t) => (!t.is_null(i)).then(|| t.value(i)),
        }
    }
}

//! When filings arrive: how many a commune takes on a given day, and at
//! what time of day.
//!
//! In-person and postal filings are received at the counter, so only
//! inside the working windows of working days (holidays, Tết and make-up
//! Saturdays as the calendar has them), busier in the morning and early in
//! the week. Online filings are submitted at any hour, most in the evening,
//! weekends included; the center receives them in its next working window.

use hoso_model::calendar::{Calendar, weekday};
use hoso_model::time::{DAY_MS, LOCAL_OFFSET_MS};

use super::mix::Mix;
use super::rng::{Rng, cumulative};

/// In-person traffic by weekday (Monday first), averaging 1 over Monday to
/// Friday; Saturday's figure is for make-up working Saturdays.
const OFFICE_WEEKDAY: [f64; 7] = [1.25, 1.05, 1.0, 0.95, 0.75, 0.7, 0.7];

/// Online submissions by weekday, averaging 1 over the week.
const ONLINE_WEEKDAY: [f64; 7] = [1.15, 1.1, 1.05, 1.05, 1.0, 0.8, 0.85];

/// In-person traffic by local hour: a morning peak, a quieter afternoon.
const OFFICE_HOUR: [f64; 24] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8, // 00-07
    1.4, 1.5, 1.3, 0.9, 0.5, 0.9, 1.0, 0.85, // 08-15
    0.55, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, // 16-23
];

/// Online submissions by local hour: quiet nights, a peak after dinner.
const ONLINE_HOUR: [f64; 24] = [
    0.3, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 0.9, // 00-07
    1.2, 1.3, 1.3, 1.2, 1.0, 1.0, 1.1, 1.1, // 08-15
    1.1, 1.1, 1.2, 1.5, 1.8, 1.9, 1.4, 0.7, // 16-23
];

/// Day-to-day noise of a commune's volume (sigma of a lognormal factor).
const DAILY_NOISE_SIGMA: f64 = 0.12;

/// Draws arrival counts and times.
#[derive(Clone, Debug)]
pub struct Arrivals {
    /// Minutes after local midnight inside the working windows...
    office_minutes: Vec<u32>,
    /// ...and their cumulative weights.
    office_weights: Vec<f64>,
    online_weights: Vec<f64>,
}

/// How many filings a commune starts on one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Received at the counter (in person or by post).
    pub office: u64,
    /// Submitted online.
    pub online: u64,
}

impl Arrivals {
    pub fn new(calendar: &Calendar) -> Arrivals {
        let office_minutes: Vec<u32> = calendar.hours().iter().flat_map(|&(s, e)| s..e).collect();
        let office_weights = cumulative(
            office_minutes
                .iter()
                .map(|m| OFFICE_HOUR[(*m / 60).min(23) as usize].max(0.05)),
        );
        Arrivals {
            office_minutes,
            office_weights,
            online_weights: cumulative(ONLINE_HOUR),
        }
    }

    /// The day's counts for a commune with this mean daily volume.
    pub fn counts(
        &self,
        calendar: &Calendar,
        day: i32,
        daily_mean: f64,
        mix: &Mix,
        rng: &mut Rng,
    ) -> DayCounts {
        let wd = weekday(day) as usize;
        let noise = rng.lognormal(1.0, DAILY_NOISE_SIGMA);
        let office = if calendar.is_working_day(day) && !self.office_minutes.is_empty() {
            let share = 1.0 - mix.online_share;
            rng.poisson(daily_mean * share * OFFICE_WEEKDAY[wd] * noise)
        } else {
            0
        };
        // Online submissions spread a week's five working days of online
        // filings over seven days; some are refused at intake, so more
        // are submitted than received.
        let submitted_per_received = 1.0 / (1.0 - mix.not_received_share).max(0.01);
        let online = rng.poisson(
            daily_mean * mix.online_share * submitted_per_received * 5.0 / 7.0
                * ONLINE_WEEKDAY[wd]
                * noise,
        );
        DayCounts { office, online }
    }

    /// A time at the counter on `day` (a working day), whole seconds.
    pub fn office_time(&self, day: i32, rng: &mut Rng) -> i64 {
        let minute = self.office_minutes[rng.pick(&self.office_weights)];
        midnight(day) + i64::from(minute) * 60_000 + rng.below(60) as i64 * 1000
    }

    /// A time of an online submission on `day`, whole seconds.
    pub fn online_time(&self, day: i32, rng: &mut Rng) -> i64 {
        let hour = rng.pick(&self.online_weights) as i64;
        midnight(day) + hour * 3_600_000 + rng.below(3600) as i64 * 1000
    }
}

/// The instant local `day` begins.
pub fn midnight(day: i32) -> i64 {
    i64::from(day) * DAY_MS - LOCAL_OFFSET_MS
}

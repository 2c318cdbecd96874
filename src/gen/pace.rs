//! How fast events leave: as fast as the sink takes them, at a fixed rate,
//! or with event time mapped onto wall time.

use std::time::{Duration, Instant};

/// The pace of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// As fast as the sink takes them.
    Fast,
    /// This many events per second.
    Rate { events_per_s: f64 },
    /// Event time runs this many times faster than wall time from the
    /// start of the window (10,000: a month in about 4.3 minutes).
    Speedup(f64),
}

/// When each event may leave.
pub struct Pacer {
    pace: Pace,
    started: Instant,
    /// Event time at `started`, UTC milliseconds.
    origin_ms: i64,
}

impl Pacer {
    pub fn new(pace: Pace, origin_ms: i64) -> Pacer {
        Pacer {
            pace,
            started: Instant::now(),
            origin_ms,
        }
    }

    pub fn is_paced(&self) -> bool {
        self.pace != Pace::Fast
    }

    /// The earliest instant the `index`-th event (from 0), of event time
    /// `at_ms`, may leave; `None` when unpaced.
    pub fn due(&self, at_ms: i64, index: u64) -> Option<Instant> {
        let secs = match self.pace {
            Pace::Fast => return None,
            Pace::Rate { events_per_s } => index as f64 / events_per_s,
            Pace::Speedup(x) => (at_ms - self.origin_ms).max(0) as f64 / 1000.0 / x,
        };
        Some(self.started + Duration::from_secs_f64(secs.clamp(0.0, 1e9)))
    }
}

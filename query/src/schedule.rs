//! Work repeated on a schedule (alert rules, KPI gauges): one loop, so
//! they tick, skip missed ticks and stop alike.

use std::future::Future;
use std::time::Duration;

/// Runs `work` with the wall-clock time (ms since the epoch) at once and
/// then every `interval`, until `stop`. A run that overruns delays the
/// next tick rather than bunching ticks up.
pub async fn every<F, Fut>(interval: Duration, stop: impl Future<Output = ()>, mut work: F)
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        work(now_ms()).await;
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

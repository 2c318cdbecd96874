//! The demo feed: the generator (`hoso gen`) sent through ingest over HTTP,
//! like any source system would. It backfills the last `backfill_days`
//! days of realistic filings, then follows the wall clock: the backfill's
//! open filings and today's arrivals move on in real time, and
//! `live_rate_per_s` extra filings a second live compressed lives (a day
//! in a minute) so the figures move while you watch.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hoso_model::time::local_day;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::r#gen::communes::{self, CommuneSource};
use crate::r#gen::mix::Mix;
use crate::r#gen::portal;
use crate::r#gen::stream::{Format, Stream, World};

/// Events per request to ingest.
const BATCH_EVENTS: usize = 5_000;

/// How much faster than real ones the live filings live: a day in a minute.
const LIVE_SPEEDUP: f64 = 1440.0;

#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Where ingest listens, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The communes CSV (the reference list); made-up communes when it
    /// does not exist.
    pub communes_csv: Option<PathBuf>,
    /// How many communes to simulate (a seeded sample).
    pub communes: usize,
    pub backfill_days: i64,
    /// Median filings per commune per working day.
    pub filings_per_day: u32,
    /// Compressed live filings per second.
    pub live_rate_per_s: u32,
    pub seed: u64,
    /// The bearer token ingest wants, when tokens are configured.
    pub token: Option<String>,
    /// The contract's events, or the portal's records and steps.
    pub format: Format,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The demo's stream: its communes and mix, backfilling from
/// `backfill_days` before the day of `now_ms` up to `now_ms`.
pub fn stream(opts: &DemoOptions, now_ms: i64) -> anyhow::Result<Stream> {
    let source = match &opts.communes_csv {
        Some(p) if p.is_file() => CommuneSource::Csv(p.clone()),
        _ => CommuneSource::Synthetic { per_province: 20 },
    };
    let mix = Mix {
        median_daily: f64::from(opts.filings_per_day.max(1)),
        ..Mix::default()
    };
    let communes = communes::select(
        &source,
        &[],
        Some(opts.communes.max(1)),
        mix.median_daily,
        opts.seed,
    )?;
    let world = Arc::new(World::new(communes, mix, opts.seed)?);
    let days = opts.backfill_days.clamp(0, 3660) as i32;
    let mut stream =
        Stream::new(world, local_day(now_ms) - days, days as u32).with_format(opts.format);
    stream.extend_to(now_ms);
    Ok(stream)
}

/// The units file of the demo's communes in the portal format
/// ([`portal::unit_code`]), checked against `units`.
pub fn portal_units(
    opts: &DemoOptions,
    units: &hoso_model::units::Units,
) -> anyhow::Result<hoso_model::portal::unit_map::UnitMap> {
    let stream = stream(opts, now_ms())?;
    let csv = portal::units_csv(&stream.world().communes);
    hoso_model::portal::unit_map::UnitMap::parse(&csv, units)
        .map_err(|e| anyhow::anyhow!("the demo's unit codes: {e}"))
}

/// One batch of the stream as request bodies: NDJSON events for
/// `/v1/events`, or a records and a steps request for `/v1/dvcqg`.
fn next_bodies(stream: &mut Stream, format: Format) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    let (mut records, mut steps) = (Vec::new(), Vec::new());
    let mut count = 0;
    let mut item = Vec::new();
    while count < BATCH_EVENTS {
        item.clear();
        let Some(e) = stream.next_into(&mut item) else {
            break;
        };
        count += 1;
        let out = match format {
            Format::Events => &mut events,
            Format::Portal if portal::is_step(e.kind) => &mut steps,
            Format::Portal => &mut records,
        };
        if !out.is_empty() && format == Format::Portal {
            out.push(b',');
        }
        out.extend_from_slice(&item);
        if format == Format::Events {
            out.push(b'\n');
        }
    }
    let request = |service: &str, items: Vec<u8>| {
        let mut body = format!("{{\"service\":\"{service}\",\"data\":[").into_bytes();
        body.extend_from_slice(&items);
        body.extend_from_slice(b"]}");
        body
    };
    let mut bodies = Vec::new();
    if !events.is_empty() {
        bodies.push(events);
    }
    if !records.is_empty() {
        bodies.push(request(hoso_model::portal::request::RECORDS, records));
    }
    if !steps.is_empty() {
        bodies.push(request(hoso_model::portal::request::STEPS, steps));
    }
    bodies
}

/// Sends the feed until `cancel`.
pub async fn run(opts: DemoOptions, cancel: CancellationToken) -> anyhow::Result<()> {
    let mut stream = stream(&opts, now_ms())?;
    info!(
        communes = stream.world().communes.len(),
        days = opts.backfill_days,
        "demo: backfilling"
    );
    let client = reqwest::Client::new();
    let path = match opts.format {
        Format::Events => "/v1/events",
        Format::Portal => "/v1/dvcqg",
    };
    let url = format!("{}{path}", opts.url.trim_end_matches('/'));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut live = 0u64;
    let mut backfilled = false;
    loop {
        // Everything due by now, in requests of BATCH_EVENTS.
        loop {
            let bodies = next_bodies(&mut stream, opts.format);
            if bodies.is_empty() {
                break;
            }
            for body in bodies {
                send(&client, &url, opts.token.as_deref(), body, &cancel).await?;
                if cancel.is_cancelled() {
                    return Ok(());
                }
            }
        }
        if !backfilled {
            backfilled = true;
            info!(
                events = stream.stats().events,
                filings = stream.stats().filings,
                "demo: backfilled; following the clock"
            );
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let now = now_ms();
        for _ in 0..opts.live_rate_per_s {
            stream.add_live(now, live, LIVE_SPEEDUP);
            live += 1;
        }
        stream.extend_to(now + 1);
    }
}

/// Posts one batch, retrying while ingest answers 503 (safe: event ids,
/// and records sent twice, change nothing).
async fn send(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Vec<u8>,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let mut request = client.post(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let resp = request
            .header(
                "content-type",
                if body.first() == Some(&b'{') && body.starts_with(b"{\"service\"") {
                    "application/json"
                } else {
                    "application/x-ndjson"
                },
            )
            .body(body.clone())
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                let text = r.text().await.unwrap_or_default();
                anyhow::bail!(
                    "ingest refused the demo's login ({text}); pass an admin or ingest token with --token or HOSO_TOKEN"
                );
            }
            Ok(r) if r.status().as_u16() == 422 => {
                let text = r.text().await.unwrap_or_default();
                anyhow::bail!("ingest refused demo events (a generator bug): {text}");
            }
            Ok(r) => warn!(status = %r.status(), "demo: ingest not taking events yet; retrying"),
            Err(e) => warn!(error = %e, "demo: ingest unreachable; retrying"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(seed: u64) -> DemoOptions {
        DemoOptions {
            url: String::new(),
            communes_csv: Some("/nonexistent/communes.csv".into()),
            communes: 4,
            backfill_days: 3,
            filings_per_day: 20,
            live_rate_per_s: 5,
            seed,
            token: None,
            format: Format::Events,
        }
    }

    #[test]
    fn the_backfill_is_valid_and_deterministic() {
        let now = 1_751_900_000_000;
        let events = |seed| -> Vec<String> { stream(&opts(seed), now).unwrap().collect() };
        let a = events(7);
        assert!(a.len() > 100, "{} events", a.len());
        for line in &a {
            if let Err(e) = hoso_model::decode_event(line.as_bytes()) {
                panic!("{line}: {e}");
            }
        }
        assert_eq!(a, events(7));
        assert_ne!(a, events(8));
    }

    #[test]
    fn the_portal_backfill_is_taken_whole_by_ingest() {
        let now = 1_751_900_000_000;
        let o = DemoOptions {
            format: Format::Portal,
            communes_csv: Some("model/data/communes.csv".into()),
            ..opts(7)
        };
        let units = portal_units(&o, &hoso_model::units::Units::official()).unwrap();
        let mut stream = stream(&o, now).unwrap();
        let (mut requests, mut items) = (0, 0);
        loop {
            let bodies = next_bodies(&mut stream, Format::Portal);
            if bodies.is_empty() {
                break;
            }
            for body in bodies {
                let dues = hoso_model::catalogue::DueRules::vietnam();
                let out = hoso_ingest::dvcqg::envelopes(&body, &dues, Some(&units), now)
                    .unwrap_or_else(|e| panic!("{e}"));
                requests += 1;
                items += out.len();
            }
        }
        assert!(
            requests >= 2 && items > 100,
            "{requests} requests, {items} items"
        );
    }
}

//! The demo feed: a simple, deterministic stream of plausible filings sent
//! through ingest over HTTP, like any source system would. It backfills the
//! last `backfill_days` days, then keeps filings arriving and progressing in
//! real time (with lifecycles compressed to minutes so the figures move).
//! The realistic generator (`hoso gen`) is its own piece of work.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;
use std::time::Duration;

use hoso_model::time::{DAY_MS, LOCAL_OFFSET_MS};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// A few real communes, for machines without the reference list.
const FALLBACK_COMMUNES: [(&str, &str); 6] = [
    ("01", "00004"), // Hà Nội, Ba Đình
    ("01", "00008"), // Hà Nội, Ngọc Hà
    ("01", "00025"), // Hà Nội, Giảng Võ
    ("01", "00070"), // Hà Nội, Hoàn Kiếm
    ("79", "26737"), // Hồ Chí Minh, Tân Định
    ("79", "26740"), // Hồ Chí Minh, Sài Gòn
];

/// Procedures: code and statutory days.
const PROCEDURES: [(&str, i64); 6] = [
    ("1.001193", 1),  // birth registration
    ("1.000894", 5),  // marriage registration
    ("1.004222", 7),  // permanent residence
    ("1.003003", 10), // land registration
    ("1.000656", 3),  // copy certification
    ("2.000908", 2),  // judicial record
];

#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Where ingest listens, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// CSV with `province_code` and `commune_code` columns (the reference list).
    pub communes_csv: Option<std::path::PathBuf>,
    /// How many communes to simulate.
    pub communes: usize,
    pub backfill_days: i64,
    /// Filings per commune per day in the backfill.
    pub filings_per_day: u32,
    /// New filings per second in the live phase.
    pub live_rate_per_s: u32,
    pub seed: u64,
}

#[derive(Serialize)]
struct DemoEvent<'a> {
    event_id: String,
    filing_id: &'a str,
    seq: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    occurred_at: String,
    province_code: &'a str,
    commune_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    procedure_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    eid_level2: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    online_payment: Option<bool>,
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// One scheduled event: (time, filing number, line).
type Scheduled = Reverse<(i64, u64, String)>;

struct Generator {
    rng: Rng,
    communes: Vec<(String, String)>,
    next_filing: u64,
}

fn rfc3339_local(ms: i64) -> String {
    let local = ms + LOCAL_OFFSET_MS;
    let (y, m, d) = hoso_model::time::civil_from_days(local.div_euclid(DAY_MS));
    let rem = local.rem_euclid(DAY_MS) / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+07:00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl Generator {
    /// Schedules every event of one new filing received at `at`;
    /// `scale` shrinks the lifecycle (1.0 = real days).
    fn filing(&mut self, filing_id: String, at: i64, scale: f64, out: &mut BinaryHeap<Scheduled>) {
        let n = self.next_filing;
        self.next_filing += 1;
        let (province, commune) =
            self.communes[self.rng.below(self.communes.len() as u64) as usize].clone();
        let (procedure, days) = PROCEDURES[self.rng.below(PROCEDURES.len() as u64) as usize];
        let online = self.rng.chance(0.15);
        let channel = if online {
            "online"
        } else if self.rng.chance(0.05) {
            "postal"
        } else {
            "in_person"
        };
        let span = |d: f64| (d * scale) as i64;
        let due = at + span((days * DAY_MS) as f64);
        let mut seq = 0;
        let mut t = at;
        let mut push = |kind: &'static str, when: i64, extra: &dyn Fn(&mut DemoEvent)| {
            seq += 1;
            let mut ev = DemoEvent {
                event_id: format!("{filing_id}-{seq}"),
                filing_id: &filing_id,
                seq,
                kind,
                occurred_at: rfc3339_local(when),
                province_code: &province,
                commune_code: &commune,
                procedure_code: None,
                channel: None,
                due_at: None,
                eid_level2: None,
                online_payment: None,
            };
            extra(&mut ev);
            if let Ok(line) = serde_json::to_string(&ev) {
                out.push(Reverse((when, n, line)));
            }
        };
        if online {
            push("submitted", t - span(3_600_000.0), &|_| {});
            if self.rng.chance(0.02) {
                push("not_received", t, &|_| {});
                return;
            }
        }
        let due_text = rfc3339_local(due);
        push("received", t, &|e| {
            e.procedure_code = Some(procedure);
            e.channel = Some(channel);
            e.due_at = Some(due_text.clone());
            e.eid_level2 = Some(online);
        });
        t += span(1_800_000.0);
        push("processing", t, &|_| {});
        if self.rng.chance(0.01) {
            push("withdrawn", t + span(3_600_000.0), &|_| {});
            return;
        }
        let requests = if self.rng.chance(0.08) {
            if self.rng.chance(0.1) { 2 } else { 1 }
        } else {
            0
        };
        for _ in 0..requests {
            t += span(4.0 * 3_600_000.0);
            push("supplement_requested", t, &|_| {});
            t += span(24.0 * 3_600_000.0);
            push("supplement_received", t, &|_| {});
        }
        if self.rng.chance(0.3) {
            t += span(600_000.0);
            push("fee_requested", t, &|_| {});
            t += span(1_200_000.0);
            let paid_online = online || self.rng.chance(0.2);
            push("fee_paid", t, &|e| e.online_payment = Some(paid_online));
        }
        // ~97% on time: resolve at a random point before the due, else after.
        let window = (due - t).max(60_000);
        let end = if self.rng.chance(0.97) {
            t + (self.rng.below(window as u64) as i64)
        } else {
            due + self.rng.below(span(2.0 * DAY_MS as f64).max(60_000) as u64) as i64
        };
        push(
            if self.rng.chance(0.02) {
                "stopped"
            } else {
                "resolved"
            },
            end,
            &|_| {},
        );
        push("returned", end + span(3_600_000.0), &|_| {});
    }
}

fn load_communes(path: Option<&Path>, want: usize, rng: &mut Rng) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = path
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|l| {
                    let mut cols = l.split(',');
                    let p = cols.next()?.trim().to_string();
                    let _name = cols.next()?;
                    let c = cols.next()?.trim().to_string();
                    (p.len() == 2 && c.len() == 5).then_some((p, c))
                })
                .collect()
        })
        .unwrap_or_default();
    if all.is_empty() {
        all = FALLBACK_COMMUNES
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
    }
    // A deterministic sample.
    for i in (1..all.len()).rev() {
        all.swap(i, rng.below(i as u64 + 1) as usize);
    }
    all.truncate(want.max(1));
    all
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Sends the feed until `cancel`.
pub async fn run(opts: DemoOptions, cancel: CancellationToken) -> anyhow::Result<()> {
    let mut rng = Rng(opts.seed);
    let communes = load_communes(opts.communes_csv.as_deref(), opts.communes, &mut rng);
    let mut generator = Generator {
        rng,
        communes,
        next_filing: 0,
    };
    let client = reqwest::Client::new();
    let url = format!("{}/v1/events", opts.url.trim_end_matches('/'));
    let mut queue: BinaryHeap<Scheduled> = BinaryHeap::new();

    let now = now_ms();
    let today = (now + LOCAL_OFFSET_MS).div_euclid(DAY_MS);
    for day in (today - opts.backfill_days)..today {
        // Each day's filings depend only on the seed and the day, so a
        // restart resends the same events, which hoso drops as duplicates.
        generator.rng = Rng(opts.seed ^ (day as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        for n in 0..(opts.filings_per_day as usize * generator.communes.len()) {
            // Received during working hours, 07:30-17:00 local.
            let minute = 450 + generator.rng.below(570) as i64;
            let at = day * DAY_MS - LOCAL_OFFSET_MS + minute * 60_000;
            let id = format!("DEMO-{}-{n:05}", hoso_model::time::format_day(day as i32));
            generator.filing(id, at, 1.0, &mut queue);
        }
    }
    info!(
        communes = generator.communes.len(),
        filings = generator.next_filing,
        "demo: backfilling"
    );
    let mut sent = 0usize;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let now = now_ms();
        let mut batch = String::new();
        let mut count = 0;
        while queue.peek().is_some_and(|Reverse((t, _, _))| *t <= now) && count < 5000 {
            if let Some(Reverse((_, _, line))) = queue.pop() {
                batch.push_str(&line);
                batch.push('\n');
                count += 1;
            }
        }
        if count > 0 {
            send(&client, &url, batch, &cancel).await?;
            sent += count;
            if count == 5000 {
                continue; // still backfilling
            }
            info!(sent, "demo: events sent");
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let now = now_ms();
        for i in 0..opts.live_rate_per_s {
            // Live filings run their course in minutes: 1 "day" = 1 minute.
            // Their ids carry their start time: new on every run.
            generator.filing(
                format!("DEMO-LIVE-{now}-{i}"),
                now,
                1.0 / 1440.0,
                &mut queue,
            );
        }
    }
}

/// Posts one NDJSON batch, retrying while ingest answers 503 (safe: the
/// event ids deduplicate).
async fn send(
    client: &reqwest::Client,
    url: &str,
    body: String,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let resp = client
            .post(url)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => return Ok(()),
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

    fn day_of_events(seed: u64, scale: f64) -> Vec<String> {
        let mut rng = Rng(seed);
        let communes = load_communes(None, 4, &mut rng);
        let mut generator = Generator {
            rng,
            communes,
            next_filing: 0,
        };
        let mut queue = BinaryHeap::new();
        for n in 0..300 {
            generator.filing(
                format!("T-{n}"),
                1_751_331_600_000 + n * 60_000,
                scale,
                &mut queue,
            );
        }
        let mut lines = Vec::new();
        while let Some(Reverse((_, _, line))) = queue.pop() {
            lines.push(line);
        }
        lines
    }

    #[test]
    fn every_demo_event_is_valid_and_the_feed_is_deterministic() {
        for scale in [1.0, 1.0 / 1440.0] {
            let lines = day_of_events(7, scale);
            assert!(lines.len() > 300 * 3, "{} events", lines.len());
            for line in &lines {
                if let Err(e) = hoso_model::decode_event(line.as_bytes()) {
                    panic!("{line}: {e}");
                }
            }
            assert_eq!(lines, day_of_events(7, scale));
        }
        assert_ne!(day_of_events(7, 1.0), day_of_events(8, 1.0));
    }
}

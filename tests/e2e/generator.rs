//! `hoso gen` into a real broker, folded by the real processor: every
//! generated event is acknowledged and folded, and the views show the
//! shares the generator was asked for.

use std::time::Duration;

use hoso::r#gen::communes::CommuneSource;
use hoso::r#gen::mix::Mix;
use hoso::r#gen::pace::Pace;
use hoso::r#gen::{Destination, GenOptions};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::harness::{Broker, Hoso, test_config, topic, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_events_fold_into_realistic_views() {
    let broker = Broker::start();
    let topic = topic("gen");
    let config = test_config(&broker.addr, &topic);
    let hoso = Hoso::start(config.clone()).await;
    hoso.wait_ready().await;

    let opts = GenOptions {
        seed: 91,
        // Monday 7 July 2025, a working week.
        start_day: hoso::cli::parse_date("2025-07-07").unwrap(),
        days: 5,
        communes: CommuneSource::Synthetic { per_province: 6 },
        provinces: vec!["91".into()],
        max_communes: None,
        mix: Mix {
            median_daily: 40.0,
            ..Mix::default()
        },
        pace: Pace::Fast,
        destination: Destination::Kafka,
        format: hoso::r#gen::Format::Events,
        units_out: None,
        progress: false,
    };
    let report = hoso::r#gen::run(opts, &config, CancellationToken::new())
        .await
        .expect("the generator runs");
    assert_eq!(report.failure, None);
    let s = &report.stats;
    assert!(s.events > 3_000, "{} events", s.events);
    assert_eq!(report.sent, s.events, "every event acknowledged");

    let folded = wait_for(Duration::from_secs(60), || async {
        hoso.sql("SELECT count(*) AS n FROM filings").await == vec![json!({ "n": s.filings })]
    })
    .await;
    assert!(folded, "not every generated filing was folded");
    let rejects = hoso.sql("SELECT count(*) AS n FROM rejects").await;
    assert_eq!(rejects, vec![json!({ "n": 0 })]);

    let online = hoso
        .sql(
            "SELECT sum(received) AS received, sum(received_online) AS online, \
             CAST(sum(received_online) AS DOUBLE) / sum(received) AS share FROM online_share",
        )
        .await;
    assert_eq!(online[0]["received"], json!(s.received));
    let share = online[0]["share"].as_f64().unwrap();
    assert!((0.10..=0.20).contains(&share), "online share {share}");

    let on_time = hoso
        .sql(
            "SELECT sum(ended) AS ended, \
             CAST(sum(ended_on_time) AS DOUBLE) / sum(ended) AS rate FROM on_time_rate",
        )
        .await;
    assert_eq!(on_time[0]["ended"], json!(s.ended));
    let rate = on_time[0]["rate"].as_f64().unwrap();
    assert!((0.95..=0.995).contains(&rate), "on-time rate {rate}");
    hoso.stop().await;
}

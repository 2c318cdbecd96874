//! The dashboard at `/` in headless Chromium (Debian's), driven by
//! Playwright (`tests/browser/dashboard.mjs`): against the demo's data,
//! the cards equal SQL's answers at the country, a province and a
//! commune, drill-down and keyboard sorting work, and no request leaves
//! 127.0.0.1. The script saves a screenshot (`HOSO_SCREENSHOT`, else in the
//! temporary directory; `docs/dashboard.png` is made this way).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hoso::demo::{self, DemoOptions};

use crate::harness::{Broker, Hoso, now_ms, test_config, topic, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_what_sql_says_and_drills_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/dashboard.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir()
            && Path::new("/usr/bin/chromium").is_file(),
        "the browser test needs Chromium and playwright-core: run `deploy/local.sh test`"
    );

    let broker = Broker::start();
    let topic = topic("dashboard");
    let mut config = test_config(&broker.addr, &topic);
    // Names when the reference list is at hand (it need not be).
    let reference = root.join("../shared/reference/communes.csv");
    if reference.is_file() {
        config.query.communes_file = reference.display().to_string();
    }
    let hoso = Hoso::start(config).await;
    hoso.wait_ready().await;

    // The demo's 30 days, sent through ingest; no live feed after it, so
    // the numbers hold still while the browser reads them.
    let opts = DemoOptions {
        url: hoso.base.clone(),
        communes_csv: Some(reference),
        communes: 8,
        backfill_days: 30,
        filings_per_day: 25,
        live_rate_per_s: 0,
        seed: 766,
        token: None,
        format: hoso::r#gen::Format::Events,
    };
    let mut stream = demo::stream(&opts, now_ms()).expect("the demo stream");
    loop {
        let mut body = Vec::new();
        let mut n = 0;
        while n < 5_000 && stream.next_into(&mut body).is_some() {
            body.push(b'\n');
            n += 1;
        }
        if n == 0 {
            break;
        }
        let (status, answer, _) = hoso.post_events(body).await;
        assert_eq!(status, 202, "{answer}");
    }
    let filings = stream.stats().filings;
    assert!(filings > 1_000, "a real demo: {filings} filings");
    let folded = wait_for(Duration::from_secs(60), || async {
        hoso.sql("SELECT COUNT(*) AS n FROM filings").await[0]["n"] == filings
    })
    .await;
    assert!(folded, "not every filing was folded");

    let screenshot = std::env::var_os("HOSO_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("{topic}.png")));
    let _ = std::fs::remove_file(&screenshot);
    let (base, shot) = (hoso.base.clone(), screenshot.clone());
    // Every wait in the script has its own timeout, so it ends.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(&script)
            .arg(&base)
            .arg(&shot)
            .output()
    })
    .await
    .expect("the browser test ran")
    .expect("node runs (run `deploy/local.sh test`)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser test failed:\n{text}");
    assert!(text.contains("dashboard: ok"), "{text}");
    eprintln!("{text}");
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    hoso.stop().await;
}

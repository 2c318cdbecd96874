//! Shared helpers: the broker process, the server, HTTP and Kafka clients.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hoso::config::{Config, Overrides};
use hoso::up::{self, Roles, Running};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde_json::Value;

/// A Tansu broker on a free loopback port, with in-memory storage (or
/// sqlite, which survives a restart); killed when dropped.
pub struct Broker {
    pub addr: String,
    child: Option<Child>,
    url: String,
    storage: String,
    /// Where it runs: a `sqlite://` path is relative to it.
    dir: Option<PathBuf>,
    log: PathBuf,
}

fn tansu_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return p.into();
    }
    let home_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tansu"));
    match home_bin {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tansu"),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Broker {
    pub fn start() -> Broker {
        Broker::start_with("memory://tansu/", None)
    }

    /// A broker storing its log in `dir/tansu.db`: what it acknowledged
    /// survives [`Broker::kill`] and [`Broker::start_again`].
    pub fn start_sqlite(dir: &Path) -> Broker {
        std::fs::create_dir_all(dir).expect("broker directory");
        Broker::start_with("sqlite://tansu.db", Some(dir.to_path_buf()))
    }

    fn start_with(storage: &str, dir: Option<PathBuf>) -> Broker {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("hoso-e2e-tansu-{port}.log"));
        let _ = std::fs::remove_file(&log);
        let mut broker = Broker {
            addr: format!("127.0.0.1:{port}"),
            child: None,
            url,
            storage: storage.into(),
            dir,
            log,
        };
        broker.start_again();
        broker
    }

    /// The running broker's process id.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// Starts the broker process (again) on the same port and storage, and
    /// waits until it accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the broker is already running");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("tansu log file");
        let mut cmd = Command::new(tansu_binary());
        cmd.args([
            "broker",
            "--listener-url",
            &self.url,
            "--advertised-listener-url",
            &self.url,
        ])
        .args(["--storage-engine", &self.storage])
        .stdout(Stdio::from(out.try_clone().expect("log handle")))
        .stderr(Stdio::from(out));
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        self.child = Some(
            cmd.spawn()
                .expect("cannot start tansu: run `deploy/local.sh test`, which installs it"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&self.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not start; see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the broker gets no chance to flush or close anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the broker");
            child.wait().expect("the broker exits");
        }
    }

    /// The broker's log file (all its runs, appended).
    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // No panic here: a failing test is already unwinding.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A hoso server (ingest + processor + SQL) against `brokers`.
pub struct Hoso {
    pub running: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
}

pub fn test_config(brokers: &str, topic: &str) -> Config {
    let flags = Overrides {
        brokers: Some(brokers.into()),
        topic: Some(topic.into()),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(std::env::temp_dir().join(format!("hoso-e2e-{topic}"))),
    };
    // A fresh data directory: checkpoints of an earlier run must not leak in.
    if let Some(dir) = &flags.data_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    let mut config = Config::load(None, Vec::new(), &flags).expect("test config");
    config.kafka.partitions = 3;
    config.processor.publish_interval_ms = 50;
    config.processor.group_id = format!("hoso-e2e-{topic}");
    config.processor.dead_letter_topic = format!("{topic}-dlq");
    config.ingest.ack_timeout_ms = 5_000;
    // Tests run side by side: a test that wants the Postgres port sets one.
    config.query.postgres_listen = String::new();
    config.query.flight_listen = String::new();
    // A test that wants alerts in Kafka names its topic.
    config.alerting.kafka_topic = String::new();
    config
}

impl Hoso {
    pub async fn start(config: Config) -> Hoso {
        Hoso::start_roles(config, Roles::UP).await
    }

    pub async fn start_roles(config: Config, roles: Roles) -> Hoso {
        let running = up::start(config, roles).await.expect("hoso starts");
        let base = format!("http://{}", running.addr);
        Hoso {
            running: Some(running),
            base,
            http: reqwest::Client::new(),
        }
    }

    /// Waits until `/readyz` says ready (Kafka reachable, partitions caught up).
    pub async fn wait_ready(&self) {
        let url = format!("{}/readyz", self.base);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::new();
        let mut ready = false;
        while Instant::now() < deadline {
            match self.http.get(&url).send().await {
                Ok(r) if r.status().is_success() => {
                    ready = true;
                    break;
                }
                Ok(r) => last = r.text().await.unwrap_or_default(),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "hoso never became ready: {last}");
    }

    /// Posts a body to ingest: (status, JSON answer, Retry-After).
    pub async fn post_events(
        &self,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value, Option<String>) {
        let r = self
            .http
            .post(format!("{}/v1/events", self.base))
            .body(body)
            .send()
            .await
            .expect("ingest answers");
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let json = r.json::<Value>().await.unwrap_or(Value::Null);
        (status, json, retry)
    }

    /// Runs SQL: (status, body text).
    pub async fn sql_raw(&self, sql: &str, format: &str) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/v1/sql?format={format}", self.base))
            .body(sql.to_string())
            .send()
            .await
            .expect("SQL answers");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// Runs SQL with `token` as the bearer: (status, body text).
    pub async fn sql_as(&self, token: &str, sql: &str) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/v1/sql?format=json", self.base))
            .bearer_auth(token)
            .body(sql.to_string())
            .send()
            .await
            .expect("SQL answers");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// Runs SQL that must succeed; the rows as JSON objects.
    pub async fn sql(&self, sql: &str) -> Vec<Value> {
        let (status, text) = self.sql_raw(sql, "json").await;
        assert_eq!(status, 200, "{sql} -> {text}");
        serde_json::from_str(&text).expect("JSON rows")
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let r = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics answer");
        r.text().await.expect("metrics text")
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("clean shutdown");
        }
    }
}

/// Polls `check` until it is true or `timeout` passes.
pub async fn wait_for<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A message read back from a topic.
#[derive(Debug, Clone)]
pub struct Read {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: std::collections::BTreeMap<String, String>,
}

/// Every message of the topic, read to the end of each partition with a
/// plain consumer: (key, payload).
pub fn read_topic(brokers: &str, topic: &str) -> Vec<(String, String)> {
    read_messages(brokers, topic)
        .into_iter()
        .map(|m| (m.key, String::from_utf8_lossy(&m.payload).into_owned()))
        .collect()
}

/// One message of a topic, and where it is.
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub payload: String,
}

/// Every message of the topic with its partition and offset, read to the
/// end of each partition with a plain consumer.
pub fn read_topic_records(brokers: &str, topic: &str) -> Vec<Record> {
    read_messages(brokers, topic)
        .into_iter()
        .map(|m| Record {
            partition: m.partition,
            offset: m.offset,
            payload: String::from_utf8_lossy(&m.payload).into_owned(),
        })
        .collect()
}

/// Every message of the topic with its headers, read to the end of each
/// partition.
pub fn read_messages(brokers: &str, topic: &str) -> Vec<Read> {
    use rdkafka::message::Headers;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("hoso-e2e-reader-{topic}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .expect("reader");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    assert!(!partitions.is_empty(), "topic {topic} has partitions");
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut at_end = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while at_end.len() < partitions.len() {
        assert!(
            Instant::now() < deadline,
            "reading {topic} did not reach the end"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(Read {
                partition: m.partition(),
                offset: m.offset(),
                key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                payload: m.payload().unwrap_or_default().to_vec(),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                let v = String::from_utf8_lossy(h.value.unwrap_or_default());
                                (h.key.to_string(), v.into_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// A `hoso up` child process (the real binary), killed when dropped, so
/// a failing assertion never leaves one running.
pub struct UpProcess {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for UpProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hoso up` on `port` (a free one when 0) with three partitions,
/// checkpoints every 150 ms, the consumer group `group`, no Postgres or
/// Flight SQL port, and `env` set; its output goes to `log`.
pub fn spawn_up(
    port: u16,
    (brokers, topic, group): (&str, &str, &str),
    data_dir: &Path,
    log: &Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> UpProcess {
    use std::process::{Command, Stdio};
    let port = if port == 0 { free_port() } else { port };
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_hoso"))
        .args(["up", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--brokers", brokers, "--topic", topic])
        .arg("--data-dir")
        .arg(data_dir)
        .env("HOSO_KAFKA__PARTITIONS", "3")
        .env("HOSO_PROCESSOR__CHECKPOINT_INTERVAL_MS", "150")
        .env("HOSO_PROCESSOR__GROUP_ID", group)
        // The Postgres port is not under test; other processes may hold 5433.
        .env("HOSO_QUERY__POSTGRES_LISTEN", "")
        .env("HOSO_QUERY__FLIGHT_LISTEN", "")
        .envs(env.iter().copied())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("hoso binary starts");
    UpProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// SQL over HTTP at `base`: the rows, or `None` while it cannot answer.
pub async fn sql_at(http: &reqwest::Client, base: &str, q: &str) -> Option<Vec<Value>> {
    let r = http
        .post(format!("{base}/v1/sql"))
        .body(q.to_string())
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

/// A unique topic name per test.
pub fn topic(name: &str) -> String {
    format!("e2e-{name}-{}", free_port())
}

/// Runs `sql` with the real psql as `user`, unaligned and without headers
/// (`-A -t`), plus `extra` options: stdout, or stderr on failure.
pub fn psql(
    port: u16,
    user: &str,
    password: &str,
    extra: &[&str],
    sql: &str,
) -> Result<String, String> {
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            user,
            "-d",
            "hoso",
        ])
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(extra)
        .args(["-c", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql is installed (deploy/local.sh installs postgresql-client)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The wall clock, UTC milliseconds: for events dated relative to now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// Panics unless `got` equals `want` (the answers of `q`), showing the
/// first rows that differ, not thousands of equal ones.
pub fn assert_same_rows(q: &str, got: &[Value], want: &[Value]) {
    if got != want {
        let differ: Vec<String> = got
            .iter()
            .zip(want)
            .filter(|(a, b)| a != b)
            .take(3)
            .map(|(a, b)| format!("got  {a}\nwant {b}"))
            .collect();
        panic!(
            "{q}: {} rows against {}:\n{}",
            got.len(),
            want.len(),
            differ.join("\n")
        );
    }
}

/// Waits up to `timeout` for `url` to answer 2xx (a child process's
/// `/readyz`, say).
pub async fn wait_http_ok(http: &reqwest::Client, url: &str, timeout: Duration) -> bool {
    wait_for(timeout, || async {
        http.get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await
}

/// `filings` filings (`PREFIX-00000`...) over nine days of July 2025:
/// received, processed, one in five paused, most resolved; with
/// `returned`, most resolved ones also returned, one `seq` after a gap
/// (room for a late event below the last). `(key, payload)`.
pub fn filing_events(prefix: &str, filings: usize, returned: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in 0..filings {
        let id = format!("{prefix}-{f:05}");
        let day = 1 + f % 9;
        let commune = ["00004", "00008", "00025", "26740"][f % 4];
        let province = if commune == "26740" { "79" } else { "01" };
        let mut seq = 0;
        // `gap`: seqs left out before this one.
        let mut push = |kind: &str, hour: usize, extra: &str, gap: u32| {
            seq += 1 + gap;
            out.push((
                id.clone(),
                format!(
                    r#"{{"event_id":"{id}-{seq}","filing_id":"{id}","seq":{seq},"type":"{kind}","occurred_at":"2025-07-{day:02}T{hour:02}:00:00+07:00","province_code":"{province}","commune_code":"{commune}"{extra}}}"#
                ),
            ));
        };
        let due = format!(
            r#","procedure_code":"1.001193","channel":"{}","due_at":"2025-07-{:02}T17:00:00+07:00""#,
            if f % 3 == 0 { "online" } else { "in_person" },
            day + 1
        );
        push("received", 8, &due, 0);
        push("processing", 9, "", 0);
        if f % 5 == 0 {
            push("supplement_requested", 10, "", 0);
            push("supplement_received", 14, "", 0);
        }
        if f % 7 != 0 {
            push("resolved", if f % 11 == 0 { 23 } else { 16 }, "", 0);
            if returned && f % 13 != 0 {
                push("returned", 17, "", 1);
            }
        }
    }
    out
}

/// Produces `events` straight to the topic (murmur2 on the key, as ingest
/// does), in bursts of 4,000 acknowledged ones with `pause` between.
pub async fn produce(brokers: &str, topic: &str, events: &[(String, String)], pause: Duration) {
    let producer: rdkafka::producer::FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for chunk in events.chunks(4_000) {
        let sends = chunk.iter().map(|(k, v)| {
            producer.send(
                rdkafka::producer::FutureRecord::to(topic).key(k).payload(v),
                Duration::from_secs(10),
            )
        });
        for r in futures::future::join_all(sends).await {
            r.map_err(|(e, _)| e).expect("event produced");
        }
        tokio::time::sleep(pause).await;
    }
}

/// An S3-compatible object store for a test, with a bucket of its own:
/// the `moto_server` that `deploy/local.sh test` starts (its address in
/// `S3_TEST_ENDPOINT`), or else one started here on a free loopback
/// port and killed when dropped (moto: `pip install "moto[server]"`).
pub struct S3 {
    pub endpoint: String,
    pub bucket: String,
    child: Option<Child>,
}

impl S3 {
    pub async fn start(bucket: &str) -> S3 {
        let (endpoint, child, log) = match std::env::var("S3_TEST_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => (
                endpoint,
                None,
                PathBuf::from("(moto_server of deploy/local.sh)"),
            ),
            _ => {
                let port = free_port();
                let log = std::env::temp_dir().join(format!("hoso-e2e-moto-{port}.log"));
                let out = std::fs::File::create(&log).expect("moto log file");
                let child = Command::new("python3")
                    .args(["-m", "moto.server", "--host", "127.0.0.1", "--port"])
                    .arg(port.to_string())
                    .stdout(Stdio::from(out.try_clone().expect("log handle")))
                    .stderr(Stdio::from(out))
                    .spawn()
                    .expect("python3 runs");
                (format!("http://127.0.0.1:{port}"), Some(child), log)
            }
        };
        let s3 = S3 {
            endpoint,
            bucket: bucket.to_string(),
            child,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        // A bucket is made by its owner, never by hoso: the test is its owner.
        loop {
            let made = http
                .put(format!("{}/{bucket}", s3.endpoint))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if made {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start (is moto[server] installed? run `deploy/local.sh test`); see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        s3
    }

    /// `config`'s table store: this bucket, under `prefix`.
    pub fn configure(&self, config: &mut Config, prefix: &str) {
        config.store.url = format!("s3://{}/{prefix}", self.bucket);
        config.store.options = self.options().into_iter().collect();
    }

    /// The store options, also as `HOSO_STORE__OPTIONS__*` variables.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Keys of the bucket's objects under `prefix`, from its S3 listing.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let body = reqwest::Client::new()
            .get(format!(
                "{}/{}?list-type=2&prefix={prefix}&max-keys=100000",
                self.endpoint, self.bucket
            ))
            .send()
            .await
            .expect("list the bucket")
            .text()
            .await
            .expect("a listing");
        body.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

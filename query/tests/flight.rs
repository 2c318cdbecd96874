//! Arrow Flight SQL over hand-made tables, with arrow-flight's own client:
//! logins and sessions, the same rows as the executor, the refusals, and a
//! client that goes away cancelling its query. (tests/e2e/flight_sql.rs
//! runs the real ADBC driver against the whole server.)

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use arrow_flight::FlightInfo;
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::{StreamExt, TryStreamExt};
use hoso_query::auth::{AuthConfig, TokenConfig, token_sha256};
use hoso_query::{Auth, Caller, Protocol, QueryConfig, Role};
use tonic::Code;
use tonic::transport::Channel;

/// Flight SQL over `config`'s executor on a free port, with `auth`.
async fn start(config: QueryConfig, auth: Auth) -> (common::Server, SocketAddr) {
    let server = common::serve(config).await;
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let executor = server.executor.clone();
    tokio::spawn(hoso_query::flight::serve(
        executor,
        addr,
        auth,
        std::future::pending(),
    ));
    (server, addr)
}

async fn client(addr: SocketAddr) -> FlightSqlServiceClient<Channel> {
    let endpoint = Channel::from_shared(format!("http://{addr}")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match endpoint.connect().await {
            Ok(channel) => return FlightSqlServiceClient::new(channel),
            Err(e) if tokio::time::Instant::now() > deadline => panic!("no Flight SQL: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The rows of a `FlightInfo`'s endpoints.
async fn fetch(
    c: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Result<Vec<RecordBatch>, FlightError> {
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("a ticket");
        let mut rows = c.do_get(ticket).await?;
        while let Some(batch) = rows.next().await {
            batches.push(batch?);
        }
    }
    Ok(batches)
}

/// The gRPC status of a refused call: its code and message.
fn refusal<T: std::fmt::Debug>(r: Result<T, FlightError>) -> (Code, String) {
    match r {
        Err(FlightError::Tonic(status)) => (status.code(), status.message().to_string()),
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

fn pretty(batches: &[RecordBatch]) -> String {
    pretty_format_batches(batches).unwrap().to_string()
}

const VOLUME: &str = "SELECT day, province_code, commune_code, received FROM daily_partials \
                      ORDER BY day, commune_code";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_login_rows_prepared_statements_and_refusals() {
    let (server, addr) = start(QueryConfig::default(), Auth::local()).await;
    let expected = server
        .executor
        .execute(&common::admin(), VOLUME)
        .await
        .unwrap();

    let mut c = client(addr).await;
    let wrong = c.handshake("hoso", "nope").await.unwrap_err().to_string();
    assert!(wrong.contains("authentication failed"), "{wrong}");
    let token = c.handshake("hoso", "hoso").await.unwrap();
    assert!(!token.is_empty());
    assert_eq!(c.token().map(|t| t.as_bytes()), Some(&token[..]));

    // A statement: the schema first, then the rows, as the executor has them.
    let info = c.execute(VOLUME.into(), None).await.unwrap();
    assert_eq!(info.clone().try_decode_schema().unwrap(), *expected.schema);
    let got = fetch(&mut c, info).await.unwrap();
    assert_eq!(pretty(&got), pretty(&expected.batches));
    assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 3);

    // The same through a prepared statement.
    let mut prepared = c.prepare(VOLUME.into(), None).await.unwrap();
    assert_eq!(prepared.dataset_schema().unwrap(), &*expected.schema);
    let info = prepared.execute().await.unwrap();
    assert_eq!(
        pretty(&fetch(&mut c, info).await.unwrap()),
        pretty(&expected.batches)
    );
    prepared.close().await.unwrap();

    // No rows still carries the columns.
    let info = c
        .execute(
            "SELECT commune_code FROM daily_partials WHERE false".into(),
            None,
        )
        .await
        .unwrap();
    assert!(
        fetch(&mut c, info)
            .await
            .unwrap()
            .iter()
            .all(|b| b.num_rows() == 0)
    );

    // Writes, wherever they come in, are refused as read-only.
    let (code, err) = refusal(
        c.execute(
            "INSERT INTO procedures (procedure_code) VALUES ('x')".into(),
            None,
        )
        .await,
    );
    assert_eq!(code, Code::PermissionDenied, "{err}");
    assert!(err.contains("read-only"), "{err}");
    let (code, err) = refusal(
        c.execute_update("DELETE FROM procedures".into(), None)
            .await,
    );
    assert_eq!(code, Code::PermissionDenied, "{err}");
    assert!(err.contains("read-only"), "{err}");
    let (code, err) = refusal(c.begin_transaction().await);
    assert_eq!(code, Code::PermissionDenied, "{err}");
    assert!(err.contains("read-only"), "{err}");
    // A mistake is the caller's, and says what is wrong.
    let (code, err) = refusal(
        c.execute("SELECT nope FROM daily_partials".into(), None)
            .await,
    );
    assert_eq!(code, Code::InvalidArgument, "{err}");
    assert!(err.contains("nope"), "{err}");

    // An unknown session token is refused; in local mode, no header at all
    // is the local admin, as on HTTP.
    c.set_token("not-a-session".into());
    let (code, err) = refusal(c.execute("SELECT 1".into(), None).await);
    assert_eq!(code, Code::Unauthenticated, "{err}");
    c.clear_token();
    let info = c.execute("SELECT 1 AS one".into(), None).await.unwrap();
    assert_eq!(fetch(&mut c, info).await.unwrap()[0].num_rows(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_tokens_log_in_and_province_callers_see_their_province() {
    let token = |user: &str, role: &str, secret: &str| TokenConfig {
        user: user.into(),
        role: role.into(),
        sha256: token_sha256(secret),
    };
    let auth = Auth::new(&AuthConfig {
        tokens: vec![
            token("hcm", "province:79", "secret-hcm"),
            token("feed", "ingest", "secret-feed"),
        ],
    })
    .unwrap();
    let (server, addr) = start(QueryConfig::default(), auth).await;
    let mut c = client(addr).await;

    // Without credentials nothing runs once tokens are configured.
    let (code, err) = refusal(c.execute("SELECT 1".into(), None).await);
    assert_eq!(code, Code::Unauthenticated, "{err}");
    assert!(c.handshake("hoso", "hoso").await.is_err());

    c.handshake("hcm", "secret-hcm").await.unwrap();
    let info = c.execute(VOLUME.into(), None).await.unwrap();
    let got = fetch(&mut c, info).await.unwrap();
    let hcm = Caller::new("hcm", Role::Province("79".into()), Protocol::FlightSql);
    let expected = server.executor.execute(&hcm, VOLUME).await.unwrap();
    assert_eq!(pretty(&got), pretty(&expected.batches));
    assert!(pretty(&got).contains("26740") && !pretty(&got).contains("00004"));

    // A configured token works as a bearer too.
    c.set_token("secret-hcm".into());
    let info = c.execute("SELECT 1 AS one".into(), None).await.unwrap();
    assert_eq!(fetch(&mut c, info).await.unwrap()[0].num_rows(), 1);

    // An ingest token may not run SQL, nor browse the catalog.
    let mut feed = client(addr).await;
    feed.handshake("feed", "secret-feed").await.unwrap();
    let (code, err) = refusal(feed.execute("SELECT 1".into(), None).await);
    assert_eq!(code, Code::PermissionDenied, "{err}");
    assert!(err.contains("may not run SQL"), "{err}");
    assert_eq!(refusal(feed.get_catalogs().await).0, Code::PermissionDenied);
}

/// A client that disconnects while rows stream ends its query long before
/// the ten-minute timeout, and frees its slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_query() {
    let (server, addr) = start(
        QueryConfig {
            timeout_ms: 600_000,
            max_result_rows: usize::MAX,
            ..QueryConfig::default()
        },
        Auth::local(),
    )
    .await;
    let mut c = client(addr).await;
    let endless = "SELECT value, repeat('x', 50) AS pad FROM generate_series(1, 10000000000000)";
    let info = c.execute(endless.into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut rows = c.do_get(ticket).await.unwrap();
    let first = rows.try_next().await.unwrap().unwrap();
    assert!(first.num_rows() > 0);
    assert_eq!(server.metrics.running.get(), 1);
    drop(rows);
    drop(c);
    common::eventually("the streaming query ended", || {
        server.metrics.running.get() == 0 && server.outcomes("cancelled") == 1
    })
    .await;
}

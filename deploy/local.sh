#!/usr/bin/env bash
# Local runs of hoso on one machine, from a fresh clone.
#
#   deploy/local.sh up      install Tansu if missing, start it on 127.0.0.1:9092
#                           (durable, under ./data/tansu), then `hoso up --demo`
#   deploy/local.sh test    install what the tests need, then run every test
#   deploy/local.sh broker  only start Tansu on 127.0.0.1:9092 (foreground)
#   deploy/local.sh bench   the README's performance table: a release build,
#                           DuckDB and chDB, a memory-storage Tansu of its own
#                           on 127.0.0.1:19092, then `hoso bench` (its flags
#                           after `bench`)
#
# Tansu 0.6.0 is a Kafka-protocol broker; hoso speaks plain Kafka to it, so
# the same binary runs against Apache Kafka in production.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TANSU_VERSION=0.6.0
BROKER=127.0.0.1:9092
DATA=$ROOT/data

log() { printf '\033[1mlocal.sh:\033[0m %s\n' "$*" >&2; }

ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    fi
    command -v cargo >/dev/null 2>&1 || { log "cargo is required (https://rustup.rs)"; exit 1; }
    export PATH="$HOME/.cargo/bin:$PATH"
}

# librdkafka is built from source by rdkafka: it needs a C toolchain, make,
# perl and zlib headers. The tests also use psql and promtool.
ensure_system_packages() {
    local missing=()
    command -v cc >/dev/null 2>&1 || missing+=(build-essential)
    command -v make >/dev/null 2>&1 || missing+=(make)
    command -v perl >/dev/null 2>&1 || missing+=(perl)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    [ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    # The Postgres wire tests talk to hoso with the real psql.
    command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
    # promtool checks the Prometheus rules and /metrics.
    command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
    # The dashboard's browser test: Debian's Chromium, driven from Node.js.
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if [ ${#missing[@]} -gt 0 ]; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            log "installing ${missing[*]}"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        else
            log "please install: ${missing[*]}"
            exit 1
        fi
    fi
}

# The Flight SQL tests talk to hoso with the real ADBC driver, from Python.
ensure_python_adbc() {
    command -v python3 >/dev/null 2>&1 || { log "python3 (with pip) is required by the Flight SQL tests"; exit 1; }
    if ! python3 -c 'import adbc_driver_flightsql.dbapi, pyarrow' >/dev/null 2>&1; then
        log "installing adbc-driver-flightsql and pyarrow (pip3)"
        python3 -m pip install --quiet adbc-driver-flightsql pyarrow
    fi
}

# DuckDB and chDB, the engines `hoso bench` compares hoso with, and DataFusion
# alone on the same file, the ad-hoc queries' reference (its smoke
# test runs them), at the versions benches/requirements.txt pins.
ensure_python_engines() {
    if ! python3 - "$ROOT/benches/requirements.txt" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        assert version(name) == want, name
PY
    then
        log "installing DuckDB, chDB and DataFusion (pip3, benches/requirements.txt)"
        python3 -m pip install --quiet -r "$ROOT/benches/requirements.txt"
    fi
}

# Installs the pinned versions of a requirements file unless they are there.
ensure_requirements() {
    local file=$1 what=$2
    if ! python3 - "$file" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        assert version(name.split("[")[0]) == want, name
PY
    then
        log "installing $what (pip3, ${file#"$ROOT"/})"
        python3 -m pip install --quiet -r "$file"
    fi
}

# The tests' S3-compatible table store: one moto_server for the whole run
# (each test makes its own bucket), its address in S3_TEST_ENDPOINT (not a
# HOSO_ variable: hoso refuses those that name no configuration key).
start_moto_background() {
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$DATA"
    python3 -m moto.server --host 127.0.0.1 --port "$port" >"$DATA/moto.log" 2>&1 &
    MOTO_PID=$!
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            export S3_TEST_ENDPOINT="http://127.0.0.1:$port"
            log "moto_server (S3) on $S3_TEST_ENDPOINT (log: $DATA/moto.log)"
            return
        fi
        sleep 0.1
    done
    log "moto_server did not start; see $DATA/moto.log"
    exit 1
}

# playwright-core (the exact version of tests/browser/package-lock.json);
# it drives the system's Chromium and downloads no browser.
ensure_playwright() {
    local dir="$ROOT/tests/browser" want have
    want=$(cd "$dir" && node -p "require('./package-lock.json').packages['node_modules/playwright-core'].version")
    have=$(cd "$dir" && node -p "require('./node_modules/playwright-core/package.json').version" 2>/dev/null || true)
    if [ "$want" != "$have" ]; then
        log "installing playwright-core (npm ci in tests/browser)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

ensure_tansu() {
    if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q " $TANSU_VERSION"; then
        return
    fi
    log "installing Tansu $TANSU_VERSION (a one-time build of a few minutes)"
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql
}

broker_listening() {
    (exec 3<>"/dev/tcp/${BROKER%:*}/${BROKER#*:}") 2>/dev/null
}

# Starts Tansu in the background unless something already listens on the
# broker port; its PID goes in TANSU_PID (empty when reused).
start_broker_background() {
    TANSU_PID=
    if broker_listening; then
        log "a broker already listens on $BROKER; using it"
        return
    fi
    mkdir -p "$DATA/tansu"
    log "starting Tansu on $BROKER (storage: $DATA/tansu/tansu.db, log: $DATA/tansu/tansu.log)"
    (cd "$DATA/tansu" && exec tansu broker \
        --listener-url "tcp://$BROKER" --advertised-listener-url "tcp://$BROKER" \
        --storage-engine sqlite://tansu.db) >"$DATA/tansu/tansu.log" 2>&1 &
    TANSU_PID=$!
    for _ in $(seq 1 100); do
        broker_listening && return
        sleep 0.1
    done
    log "Tansu did not start; see $DATA/tansu/tansu.log"
    exit 1
}

case "${1:-}" in
    up)
        shift
        ensure_cargo
        ensure_system_packages
        ensure_tansu
        start_broker_background
        [ -n "$TANSU_PID" ] && trap 'kill "$TANSU_PID" 2>/dev/null || true' EXIT
        log "building and starting hoso (the first build takes ~10 minutes)"
        cargo build --bin hoso
        "$ROOT/target/debug/hoso" up --demo --brokers "$BROKER" --data-dir "$DATA" "$@"
        ;;
    bench)
        shift
        ensure_cargo
        ensure_system_packages
        ensure_tansu
        ensure_python_engines
        log "building the release binary (a first release build takes ~30 minutes)"
        cargo build --release --bin hoso
        BROKER=127.0.0.1:19092
        if broker_listening; then
            log "something already listens on $BROKER; the benchmark needs a broker of its own there"
            exit 1
        fi
        mkdir -p "$DATA/bench"
        log "starting Tansu with memory storage on $BROKER (log: $DATA/bench/tansu.log)"
        tansu broker --listener-url "tcp://$BROKER" --advertised-listener-url "tcp://$BROKER" \
            --storage-engine memory://tansu/ >"$DATA/bench/tansu.log" 2>&1 &
        TANSU_PID=$!
        trap 'kill "$TANSU_PID" 2>/dev/null || true' EXIT
        for _ in $(seq 1 100); do broker_listening && break; sleep 0.1; done
        broker_listening || { log "Tansu did not start; see $DATA/bench/tansu.log"; exit 1; }
        # The consume part gives Tansu half the CPUs and hoso the other half,
        # as a broker of its own machines would be (src/bench/cpus.rs).
        "$ROOT/target/release/hoso" bench --brokers "$BROKER" --broker-pid "$TANSU_PID" "$@"
        ;;
    broker)
        ensure_cargo
        ensure_tansu
        mkdir -p "$DATA/tansu"
        cd "$DATA/tansu"
        exec tansu broker --listener-url "tcp://$BROKER" --advertised-listener-url "tcp://$BROKER" \
            --storage-engine sqlite://tansu.db
        ;;
    test)
        shift
        ensure_cargo
        ensure_system_packages
        ensure_python_adbc
        ensure_python_engines
        ensure_requirements "$ROOT/tests/python/requirements.txt" "moto, check-jsonschema and kubernetes-validate"
        ensure_playwright
        ensure_tansu
        start_moto_background
        trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
        log "running every test (the end-to-end tests start their own Tansu on free ports)"
        cargo test --workspace --all-targets "$@"
        ;;
    *)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac

//! `deploy/`: the compose file and the Kubernetes manifests parse, pass
//! their schemas (check-jsonschema's compose-spec, kubernetes-validate
//! --strict, `promtool check config`), and agree with the binary: every configuration they give
//! hoso loads through `Config::load` as the binary would load it, and the
//! ports, names, topics, buckets and tokens they share line up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use hoso::config::{Config, Overrides};
use hoso_query::auth::{Auth, Protocol};
use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every YAML document of `path`, as JSON (PyYAML, merge keys resolved).
fn yaml(path: &Path) -> Vec<Value> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{} does not parse: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_checker(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (deploy/local.sh test installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `ENV HOSO_*` defaults of the image.
fn image_env() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let mut env = Vec::new();
    for line in joined.lines().filter(|l| l.starts_with("ENV ")) {
        for pair in line[4..].split_whitespace() {
            let (k, v) = pair.split_once('=').expect("ENV key=value");
            env.push((k.to_string(), v.to_string()));
        }
    }
    env
}

/// The configuration a hoso container gets: the file, the image's
/// variables, then its own; loaded as `hoso` loads it.
fn load(file: &Path, env: &[(String, String)]) -> Config {
    let mut all: Vec<(String, String)> = image_env();
    all.extend(env.iter().cloned());
    let hoso: Vec<_> = all
        .into_iter()
        .filter(|(k, _)| k.starts_with("HOSO_"))
        .collect();
    Config::load(Some(file), hoso.clone(), &Overrides::default())
        .unwrap_or_else(|e| panic!("{} with {hoso:?}: {e:#}", file.display()))
}

fn port(listen: &str) -> u16 {
    listen.rsplit(':').next().unwrap().parse().unwrap()
}

/// `host:port` of a URL like `http://host:port/...`.
fn authority(url: &str) -> &str {
    url.split("://").nth(1).unwrap().split('/').next().unwrap()
}

/// `args` names the config file and one role of the binary.
fn role_of(args: &[Value], config_path: &str) -> String {
    let args: Vec<&str> = args.iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args.len(), 3, "{args:?}");
    assert_eq!(&args[..2], ["--config", config_path], "{args:?}");
    assert!(
        ["ingest", "process", "query"].contains(&args[2]),
        "{args:?}: not a role"
    );
    args[2].to_string()
}

#[test]
fn the_dockerfile_builds_the_binary_and_exposes_its_ports() {
    let text = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .filter_map(|l| l.split(" AS ").nth(1))
        .collect();
    assert_eq!(stages, ["build", "runtime"], "multi-stage");
    assert!(text.contains("COPY --from=build /usr/local/bin/hoso /usr/local/bin/hoso"));
    assert!(text.contains("cargo build --release --locked --bin hoso"));
    assert!(text.contains(r#"ENTRYPOINT ["hoso"]"#));
    let config = Config::load(None, image_env(), &Overrides::default()).unwrap();
    let exposed: BTreeSet<u16> = text
        .lines()
        .filter_map(|l| l.strip_prefix("EXPOSE "))
        .flat_map(|l| l.split_whitespace().map(|p| p.parse().unwrap()))
        .collect();
    let ports = BTreeSet::from([
        port(&config.http.listen),
        port(&config.query.postgres_listen),
        port(&config.query.flight_listen),
    ]);
    assert_eq!(exposed, ports);
    assert_eq!(config.data_dir, Path::new("/var/lib/hoso"));
    assert!(text.contains("VOLUME /var/lib/hoso"));
    // The build context leaves out what must not be copied in.
    let ignore = std::fs::read_to_string(deploy().join("../.dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target"));
}

#[test]
fn the_compose_file_is_valid_and_agrees_with_the_binary() {
    let path = deploy().join("compose.yaml");
    run_checker(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.compose-spec",
            path.to_str().unwrap(),
        ],
    );
    let doc = yaml(&path).remove(0);
    let services = doc["services"].as_object().unwrap();
    let env_of = |s: &Value| -> Vec<(String, String)> {
        s["environment"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let kafka_init = services["kafka-init"]["command"][0].as_str().unwrap();
    let minio_init = services["minio-init"]["command"][0].as_str().unwrap();
    let file = deploy().join("compose/hoso.toml");

    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut http_ports = BTreeMap::new();
    for (name, s) in services {
        if s["image"] != "hoso:latest" {
            continue;
        }
        assert_eq!(s["build"]["dockerfile"], "deploy/Dockerfile", "{name}");
        let role = role_of(s["command"].as_array().unwrap(), "/etc/hoso/hoso.toml");
        let mounts: Vec<&str> = s["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            mounts.contains(&"./compose/hoso.toml:/etc/hoso/hoso.toml:ro"),
            "{name}: {mounts:?}"
        );
        let env = env_of(s);
        let config = load(&file, &env);
        // Kafka: the brokers are the compose brokers, on their listener.
        for b in config.kafka.brokers.split(',') {
            let (host, p) = b.split_once(':').unwrap();
            let broker = &services[host];
            assert_eq!(
                broker["environment"]["KAFKA_ADVERTISED_LISTENERS"],
                format!("PLAINTEXT://{host}:{p}"),
                "{name}: broker {b}"
            );
        }
        for topic in [
            &config.kafka.topic,
            &config.processor.dead_letter_topic,
            &config.alerting.kafka_topic,
        ] {
            assert!(
                kafka_init.contains(&format!("--topic {topic} ")),
                "{name}: kafka-init makes {topic}"
            );
        }
        // The table store: MinIO's bucket, with MinIO's credentials.
        if role != "ingest" {
            let bucket = config
                .store
                .url
                .strip_prefix("s3://")
                .and_then(|u| u.split('/').next())
                .expect("an s3:// store");
            assert!(minio_init.contains(&format!("mc mb --ignore-existing local/{bucket}")));
            let endpoint = authority(&config.store.options["aws_endpoint"]);
            assert_eq!(endpoint, "minio:9000");
            let env: BTreeMap<_, _> = env.iter().cloned().collect();
            let minio = &services["minio"]["environment"];
            assert_eq!(minio["MINIO_ROOT_USER"], env["AWS_ACCESS_KEY_ID"].as_str());
            assert_eq!(
                minio["MINIO_ROOT_PASSWORD"],
                env["AWS_SECRET_ACCESS_KEY"].as_str()
            );
        }
        let am = authority(&config.alerting.alertmanager_url);
        assert_eq!(am, "alertmanager:9093");
        assert!(services.contains_key("alertmanager"));
        // Published ports are the ones the config listens on.
        let published: Vec<u16> = s["ports"]
            .as_array()
            .map(|p| p.iter().map(|m| port(m.as_str().unwrap())).collect())
            .unwrap_or_default();
        let mut listening = vec![port(&config.http.listen)];
        if role == "query" {
            listening.push(port(&config.query.postgres_listen));
            listening.push(port(&config.query.flight_listen));
            // Grafana signs in to the query node's Postgres port with a
            // token the config knows, as a planner.
            let grafana = &services["grafana"]["environment"];
            assert_eq!(
                grafana["HOSO_PG_ADDRESS"],
                format!("{name}:{}", port(&config.query.postgres_listen))
            );
            let auth = Auth::new(&config.auth).unwrap();
            let caller = auth
                .password(
                    grafana["HOSO_USER"].as_str().unwrap(),
                    grafana["HOSO_TOKEN"].as_str().unwrap(),
                    Protocol::Postgres,
                )
                .expect("Grafana's token is in [auth]");
            assert!(caller.role.may_query());
        }
        if !published.is_empty() {
            assert_eq!(published, listening, "{name}");
        }
        http_ports.insert(name.clone(), port(&config.http.listen));
        roles.entry(role).or_default().push(name.clone());
    }
    assert_eq!(roles["ingest"].len(), 1);
    assert_eq!(roles["process"].len(), 2, "two processors");
    assert_eq!(roles["query"].len(), 1);
    // KRaft: three brokers, each a voter, of one cluster id that Kafka's
    // storage format accepts (a UUID in URL-safe base64, no padding).
    let cluster = services["kafka-1"]["environment"]["CLUSTER_ID"]
        .as_str()
        .unwrap();
    assert!(
        cluster.len() == 22
            && cluster
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "CLUSTER_ID {cluster:?}"
    );
    let voters = services["kafka-1"]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"]
        .as_str()
        .unwrap();
    for i in 1..=3 {
        assert!(voters.contains(&format!("{i}@kafka-{i}:9093")));
        assert_eq!(
            services[&format!("kafka-{i}")]["environment"]["KAFKA_NODE_ID"],
            i.to_string()
        );
    }
    for needed in ["prometheus", "alertmanager", "grafana", "minio"] {
        assert!(services.contains_key(needed), "{needed}");
    }

    // Prometheus scrapes every hoso service on its HTTP port, and nothing
    // else under job "hoso" (what the rules expect).
    let prometheus_yml = deploy().join("prometheus/prometheus.yml");
    run_checker(
        "promtool",
        &["check", "config", prometheus_yml.to_str().unwrap()],
    );
    let prometheus = yaml(&prometheus_yml).remove(0);
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(job["job_name"], "hoso");
    let scraped: BTreeMap<String, u16> = job["static_configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["targets"].as_array().unwrap().clone())
        .map(|t| {
            let (h, p) = t.as_str().unwrap().split_once(':').unwrap();
            (h.to_string(), p.parse().unwrap())
        })
        .collect();
    assert_eq!(scraped, http_ports);
    assert_eq!(
        prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0],
        "alertmanager:9093"
    );
    assert_eq!(prometheus["rule_files"][0], "hoso.rules.yml");
    // Alertmanager routes to a receiver it defines.
    let am = yaml(&deploy().join("alertmanager/alertmanager.yml")).remove(0);
    let receivers: Vec<&Value> = am["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["name"])
        .collect();
    assert!(receivers.contains(&&am["route"]["receiver"]));
    // Grafana is provisioned from the repository's files.
    let grafana: Vec<&str> = services["grafana"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let dashboards = yaml(&deploy().join("grafana/provisioning/dashboards/hoso.yml")).remove(0);
    let path = dashboards["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    assert!(grafana.contains(&format!("./grafana/dashboards:{path}:ro").as_str()));
    assert!(grafana.contains(&"./grafana/provisioning:/etc/grafana/provisioning:ro"));
    for mount in grafana.iter().chain(
        services["prometheus"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
            .iter(),
    ) {
        let local = mount.split(':').next().unwrap();
        assert!(deploy().join(local).exists(), "{mount}");
    }
}

#[test]
fn the_kubernetes_manifests_are_valid_and_agree_with_the_binary() {
    let dir = deploy().join("k8s");
    let kustomization = yaml(&dir.join("kustomization.yaml")).remove(0);
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present, "kustomization.yaml lists every manifest");
    let paths: Vec<String> = listed
        .iter()
        .map(|n| dir.join(n).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["--strict", "--quiet"];
    args.extend(paths.iter().map(String::as_str));
    run_checker("kubernetes-validate", &args);

    let docs: Vec<Value> = listed.iter().flat_map(|n| yaml(&dir.join(n))).collect();
    let of_kind =
        |kind: &str| -> Vec<&Value> { docs.iter().filter(|d| d["kind"] == kind).collect() };
    for d in &docs {
        if d["kind"] != "Namespace" {
            assert_eq!(
                d["metadata"]["namespace"], "hoso",
                "{}",
                d["metadata"]["name"]
            );
        }
    }
    let config_map = of_kind("ConfigMap")[0];
    let text = config_map["data"]["hoso.toml"].as_str().unwrap();
    let file = std::env::temp_dir().join(format!("hoso-k8s-{}.toml", std::process::id()));
    std::fs::write(&file, text).unwrap();

    let workloads: Vec<&Value> = of_kind("Deployment")
        .into_iter()
        .chain(of_kind("StatefulSet"))
        .collect();
    let mut roles = BTreeMap::new();
    let mut images = BTreeSet::new();
    for w in &workloads {
        let name = w["metadata"]["name"].as_str().unwrap();
        let pod = &w["spec"]["template"];
        let labels = &pod["metadata"]["labels"];
        assert_eq!(&w["spec"]["selector"]["matchLabels"], labels, "{name}");
        let c = &pod["spec"]["containers"][0];
        images.insert(c["image"].as_str().unwrap().to_string());
        let role = role_of(c["args"].as_array().unwrap(), "/etc/hoso/hoso.toml");
        // The ConfigMap is mounted where `--config` looks.
        let mount = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == "/etc/hoso")
            .expect("config mounted");
        let volume = pod["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("the mounted volume");
        assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);
        let env: Vec<(String, String)> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| {
                Some((
                    e["name"].as_str()?.to_string(),
                    e["value"].as_str()?.to_string(),
                ))
            })
            .collect();
        let config = load(&file, &env);
        // The data directory is a mounted volume (the root is read-only).
        let data = Path::new(&config.data_dir);
        assert!(
            c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| Path::new(m["mountPath"].as_str().unwrap()) == data),
            "{name}: {} mounted",
            data.display()
        );
        // Container ports are the ones the config listens on.
        let ports: BTreeMap<String, u16> = c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["containerPort"].as_u64().unwrap() as u16,
                )
            })
            .collect();
        let mut want = BTreeMap::from([("http".to_string(), port(&config.http.listen))]);
        if role == "query" {
            want.insert("postgres".into(), port(&config.query.postgres_listen));
            want.insert("flight".into(), port(&config.query.flight_listen));
        }
        assert_eq!(ports, want, "{name}");
        for probe in ["readinessProbe", "livenessProbe"] {
            let get = &c[probe]["httpGet"];
            assert!(
                ports.contains_key(get["port"].as_str().unwrap()),
                "{name} {probe}"
            );
            assert!(["/readyz", "/healthz"].contains(&get["path"].as_str().unwrap()));
        }
        if role != "ingest" {
            assert!(
                config.store.url.starts_with("s3://"),
                "a shared table store"
            );
            let secrets: Vec<&str> = c["env"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["valueFrom"]["secretKeyRef"]["key"].as_str())
                .collect();
            assert_eq!(
                secrets,
                ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
                "{name}"
            );
        }
        roles.insert(
            role,
            (w["kind"].as_str().unwrap(), name, labels.clone(), ports),
        );
    }
    assert_eq!(images.len(), 1, "one image for every role: {images:?}");
    assert_eq!(roles["ingest"].0, "Deployment");
    assert_eq!(roles["process"].0, "StatefulSet");
    assert_eq!(roles["query"].0, "Deployment");
    let selects = |selector: &Value| -> Vec<&str> {
        roles
            .values()
            .filter(|(_, _, labels, _)| {
                selector
                    .as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| &labels[k] == v)
            })
            .map(|(_, name, _, _)| *name)
            .collect()
    };
    // Services reach one workload, on ports its containers have.
    for s in of_kind("Service") {
        let picked = selects(&s["spec"]["selector"]);
        assert_eq!(picked.len(), 1, "{}: {picked:?}", s["metadata"]["name"]);
        let ports = &roles.values().find(|r| r.1 == picked[0]).unwrap().3;
        for p in s["spec"]["ports"].as_array().unwrap() {
            let target = p["targetPort"].as_str().unwrap();
            assert_eq!(
                Some(&(p["port"].as_u64().unwrap() as u16)),
                ports.get(target)
            );
        }
    }
    let statefulset = of_kind("StatefulSet")[0];
    assert!(
        of_kind("Service").iter().any(|s| s["metadata"]["name"]
            == statefulset["spec"]["serviceName"]
            && s["spec"]["clusterIP"] == "None"),
        "the processors' headless service"
    );
    // Every workload has a disruption budget; the HPA scales ingest.
    let budgets = of_kind("PodDisruptionBudget");
    for (_, name, _, _) in roles.values() {
        assert!(
            budgets
                .iter()
                .any(|b| selects(&b["spec"]["selector"]["matchLabels"]) == [*name]),
            "{name} has a PodDisruptionBudget"
        );
    }
    let hpa = of_kind("HorizontalPodAutoscaler");
    assert_eq!(hpa.len(), 1);
    assert_eq!(hpa[0]["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa[0]["spec"]["scaleTargetRef"]["name"], roles["ingest"].1);
    let _ = std::fs::remove_file(&file);
}

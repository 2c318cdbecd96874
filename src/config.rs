//! The one typed configuration: defaults, then a TOML file, then `HOSO_`
//! environment variables, then command-line flags. Unknown keys are
//! refused at every layer; units are in the key names.
//!
//! Environment variables name a key by its path: `HOSO_DATA_DIR` is
//! `data_dir`, `HOSO_QUERY__TIMEOUT_MS` is `query.timeout_ms`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hoso_ingest::IngestConfig;
use hoso_processor::ProcessorConfig;
use hoso_query::QueryConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where hoso keeps its state.
    pub data_dir: PathBuf,
    pub kafka: KafkaConfig,
    pub http: HttpConfig,
    pub ingest: IngestConfig,
    pub processor: ProcessorConfig,
    pub query: QueryConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated.
    pub brokers: String,
    /// The filing events topic.
    pub topic: String,
    /// Partitions of the topic when hoso creates it: the most processors
    /// that can share the work.
    pub partitions: i32,
    /// Replicas of the topic when hoso creates it (3 on a production cluster).
    pub replication_factor: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the HTTP server (ingest, SQL, health, metrics).
    pub listen: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            kafka: KafkaConfig::default(),
            http: HttpConfig::default(),
            ingest: IngestConfig::default(),
            processor: ProcessorConfig::default(),
            query: QueryConfig::default(),
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            topic: "filing-events".into(),
            partitions: 6,
            replication_factor: 1,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
        }
    }
}

/// Flags that override the configuration.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub brokers: Option<String>,
    pub topic: Option<String>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads the layers: defaults, `file`, the `HOSO_` variables of `env`, `flags`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> anyhow::Result<Config> {
        let mut tree = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("{} is not valid TOML", path.display()))?
            }
            None => toml::Table::new(),
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix("HOSO_") else {
                continue;
            };
            let path: Vec<String> = key.split("__").map(|p| p.to_ascii_lowercase()).collect();
            if path.iter().any(|p| p.is_empty()) {
                bail!("environment variable {name} does not name a configuration key");
            }
            set_path(&mut tree, &path, parse_env_value(&value))
                .with_context(|| format!("environment variable {name}"))?;
        }
        let mut config: Config = toml::Value::Table(tree)
            .try_into()
            .context("invalid configuration (file or HOSO_ environment variables)")?;
        if let Some(v) = &flags.brokers {
            config.kafka.brokers = v.clone();
        }
        if let Some(v) = &flags.topic {
            config.kafka.topic = v.clone();
        }
        if let Some(v) = &flags.listen {
            config.http.listen = v.clone();
        }
        if let Some(v) = &flags.data_dir {
            config.data_dir = v.clone();
        }
        config.propagate();
        Ok(config)
    }

    /// Copies the shared Kafka settings into the components' configs.
    pub fn propagate(&mut self) {
        self.ingest.brokers = self.kafka.brokers.clone();
        self.ingest.topic = self.kafka.topic.clone();
        self.processor.brokers = self.kafka.brokers.clone();
        self.processor.topic = self.kafka.topic.clone();
    }

    /// The effective configuration as TOML (`hoso config print`). There are
    /// no secrets in it yet; when there are, they are masked here.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

/// A value as TOML would read it (`30`, `true`, `"x"`), else the raw text.
fn parse_env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    let (last, parents) = path.split_last().context("empty key")?;
    let mut node = tree;
    for p in parents {
        let entry = node
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .with_context(|| format!("{p} is not a section"))?;
    }
    node.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("hoso-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hoso.toml");
        std::fs::write(
            &file,
            "[kafka]\nbrokers = \"file:9092\"\ntopic = \"from-file\"\n[query]\ntimeout_ms = 5\n",
        )
        .unwrap();
        let flags = Overrides {
            topic: Some("from-flag".into()),
            ..Overrides::default()
        };
        let c = Config::load(
            Some(&file),
            env(&[
                ("HOSO_QUERY__TIMEOUT_MS", "7000"),
                ("HOSO_DATA_DIR", "/tmp/x"),
                ("PATH", "/bin"),
            ]),
            &flags,
        )
        .unwrap();
        assert_eq!(c.kafka.brokers, "file:9092");
        assert_eq!(c.kafka.topic, "from-flag");
        assert_eq!(
            c.processor.topic, "from-flag",
            "components see the shared Kafka settings"
        );
        assert_eq!(c.ingest.brokers, "file:9092");
        assert_eq!(c.query.timeout_ms, 7000);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(
            c.processor.publish_interval_ms,
            ProcessorConfig::default().publish_interval_ms
        );
    }

    #[test]
    fn unknown_keys_are_refused_everywhere() {
        let none = Overrides::default();
        let err = Config::load(None, env(&[("HOSO_QUERY__TIMOUT_MS", "1")]), &none).unwrap_err();
        assert!(format!("{err:#}").contains("timout_ms"), "{err:#}");
        let err = Config::load(None, env(&[("HOSO_NOPE", "1")]), &none).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
        let err =
            Config::load(None, env(&[("HOSO_KAFKA__PARTITIONS", "many")]), &none).unwrap_err();
        assert!(format!("{err:#}").contains("partitions"), "{err:#}");
    }

    #[test]
    fn the_example_config_is_the_defaults() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/hoso.example.toml");
        let loaded = Config::load(Some(&example), Vec::new(), &Overrides::default()).unwrap();
        let mut want = Config::default();
        want.propagate();
        assert_eq!(
            loaded, want,
            "deploy/hoso.example.toml has drifted from the defaults"
        );
    }

    #[test]
    fn printed_config_loads_back_to_the_same() {
        let c = Config::default();
        let text = c.to_toml().unwrap();
        let dir = std::env::temp_dir().join(format!("hoso-config-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("printed.toml");
        std::fs::write(&file, &text).unwrap();
        let mut back = Config::load(Some(&file), Vec::new(), &Overrides::default()).unwrap();
        let mut want = c.clone();
        want.propagate();
        back.propagate();
        assert_eq!(back, want);
    }
}

//! The one typed configuration: defaults, then a TOML file, then `HOSO_`
//! environment variables, then command-line flags. Unknown keys are
//! refused at every layer; units are in the key names.
//!
//! Environment variables name a key by its path: `HOSO_DATA_DIR` is
//! `data_dir`, `HOSO_QUERY__TIMEOUT_MS` is `query.timeout_ms`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use hoso_ingest::IngestConfig;
use hoso_model::calendar::{
    Calendar, DEFAULT_HOURS, DEFAULT_SAME_DAY_CUTOFF_MIN, VN_DAYS_OFF, check_days_file,
    parse_clock, parse_window,
};
use hoso_model::catalogue::{Catalogue, DueRules};
use hoso_model::portal::unit_map::UnitMap;
use hoso_model::units::Units;
use hoso_processor::ProcessorConfig;
use hoso_query::QueryConfig;
use hoso_query::alerts::AlertingConfig;
use hoso_query::auth::{Auth, AuthConfig};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where hoso keeps its state.
    pub data_dir: PathBuf,
    /// Where checkpoints and cold files live when not in `data_dir`.
    pub store: StoreConfig,
    pub kafka: KafkaConfig,
    pub http: HttpConfig,
    pub ingest: IngestConfig,
    pub processor: ProcessorConfig,
    pub query: QueryConfig,
    pub calendar: CalendarConfig,
    pub procedures: ProceduresConfig,
    /// The provinces and communes events may name.
    pub units: UnitsConfig,
    /// Source systems read in their own format (`POST /v1/dvcqg`).
    pub sources: SourcesConfig,
    /// Tokens and their roles, for SQL on every protocol and for ingest;
    /// none means local mode (loopback only, `hoso`/`hoso`).
    pub auth: AuthConfig,
    /// SQL alert rules and where their alerts go.
    pub alerting: AlertingConfig,
    /// The calendar and the catalogue these sections name, read by
    /// [`Config::load`]; the components get their copies from it.
    #[serde(skip)]
    pub due_rules: DueRules,
    /// The official units and `units.files`, read by [`Config::load`].
    #[serde(skip)]
    pub unit_list: Arc<Units>,
    /// `sources.dvcqg.units_file`, read by [`Config::load`].
    #[serde(skip)]
    pub portal_units: Option<Arc<UnitMap>>,
}

/// Source systems read in their own format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// The National Public Service Portal's synchronisation format
    /// (`DongBoHoSoMC` records, `CapNhatTienDoHoSoMC` steps).
    pub dvcqg: DvcqgConfig,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DvcqgConfig {
    /// A CSV mapping the portal's unit codes (`madonvi`, `DonViXuLy`, e.g.
    /// `000.00.27.H35`) to official codes: the header
    /// `unit_code,province_code,commune_code`. Empty: none, and
    /// `POST /v1/dvcqg` refuses every record, naming this key.
    pub units_file: PathBuf,
}

impl DvcqgConfig {
    pub fn build(&self, units: &Units) -> anyhow::Result<Option<UnitMap>> {
        if self.units_file.as_os_str().is_empty() {
            return Ok(None);
        }
        let path = &self.units_file;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("sources.dvcqg.units_file: cannot read {}", path.display()))?;
        UnitMap::parse(&text, units)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("sources.dvcqg.units_file: {}: {e}", path.display()))
    }
}

/// The administrative units events may name: the official list of the 34
/// provinces and 3,321 communes hoso ships (`model/data/communes.csv`),
/// plus the operator's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnitsConfig {
    /// Ingest refuses an event whose `province_code` or `commune_code` is
    /// not in the list, or whose commune is not in its province (422,
    /// naming the field). Off for systems with private codes.
    pub check: bool,
    /// Files adding units (or replacing rows of the same commune), read
    /// after the official list: the columns province_code, province_name,
    /// commune_code, commune_name, unit_type.
    pub files: Vec<PathBuf>,
}

impl Default for UnitsConfig {
    fn default() -> Self {
        UnitsConfig {
            check: true,
            files: Vec::new(),
        }
    }
}

impl UnitsConfig {
    /// The official list, then the files.
    pub fn build(&self) -> anyhow::Result<Units> {
        let texts = read_all(&self.files, "units.files")?;
        let refs: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
        Units::official_with(&refs)
            .map_err(|(i, e)| anyhow::anyhow!("units.files: {}: {e}", texts[i].0.display()))
    }
}

/// The table store: where the processors' checkpoints and cold Parquet
/// files live, and where `hoso query` reads them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Empty: under `data_dir` on the local disk (fsync'd; one machine).
    /// `s3://bucket/prefix`: an S3-compatible object store, shared by every
    /// processor and query node. `file:///mnt/hoso`: a shared mount.
    pub url: String,
    /// The store's options as object_store names them (S3: `aws_endpoint`,
    /// `aws_region`, `aws_access_key_id`, `aws_secret_access_key`,
    /// `aws_allow_http`...). `AWS_*` environment variables are read first;
    /// an unknown option is refused. Booleans and numbers are taken as
    /// their text (`HOSO_STORE__OPTIONS__AWS_ALLOW_HTTP=true` is a boolean).
    #[serde(deserialize_with = "scalar_strings")]
    pub options: std::collections::BTreeMap<String, String>,
    /// How often `hoso query` looks for newer checkpoints. Its tables are
    /// at most this plus `processor.checkpoint_interval_ms` behind.
    pub poll_interval_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: String::new(),
            options: Default::default(),
            poll_interval_ms: 1_000,
        }
    }
}

/// A table of scalars as text, whatever TOML type each was written in.
fn scalar_strings<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    use serde::de::Error;
    let raw = std::collections::BTreeMap::<String, toml::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => Ok((k, s)),
            toml::Value::Boolean(_) | toml::Value::Integer(_) | toml::Value::Float(_) => {
                Ok((k, v.to_string()))
            }
            other => Err(D::Error::custom(format!(
                "{k}: {} is not a scalar",
                other.type_str()
            ))),
        })
        .collect()
}

/// The working-day calendar: Vietnam's built-in days plus the operator's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Days files read after the built-in one (the announced years
    /// 2024-2027), later rows winning: `date,kind,note` with kind one of
    /// holiday, tet, substitute_day_off, swap_day_off,
    /// make_up_working_saturday. A file listing a year's `tet` days
    /// announces that year: its rows replace the statutory projection hoso
    /// applies to every other year of 2000-2100.
    pub days_off_files: Vec<PathBuf>,
    /// Working windows of a working day, local time, `HH:MM-HH:MM`.
    pub working_hours: Vec<String>,
    /// A same-day procedure received after this local time (`HH:MM`) is
    /// due the next working day.
    pub same_day_cutoff: String,
}

/// The procedure catalogue: the built-in one plus the operator's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProceduresConfig {
    /// Catalogue files read after the built-in one; a row replaces the
    /// row of the same code. Columns:
    /// code,name_vi,name_en,deadline,fee_vnd,online,level,source, then
    /// optionally deadline_unit (working_days, calendar_days) and
    /// same_day_cutoff (`HH:MM`, empty for `calendar.same_day_cutoff`).
    pub catalogue_files: Vec<PathBuf>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        let clock = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        CalendarConfig {
            days_off_files: Vec::new(),
            working_hours: DEFAULT_HOURS
                .iter()
                .map(|(s, e)| format!("{}-{}", clock(*s), clock(*e)))
                .collect(),
            same_day_cutoff: clock(DEFAULT_SAME_DAY_CUTOFF_MIN),
        }
    }
}

impl CalendarConfig {
    /// The calendar: the built-in days, then the files.
    pub fn build(&self) -> anyhow::Result<Calendar> {
        let mut hours = Vec::new();
        for w in &self.working_hours {
            hours.push(parse_window(w).with_context(|| {
                format!("calendar.working_hours: {w:?} is not a window `HH:MM-HH:MM`")
            })?);
        }
        let cutoff = parse_clock(&self.same_day_cutoff).with_context(|| {
            format!(
                "calendar.same_day_cutoff: {:?} is not a time `HH:MM`",
                self.same_day_cutoff
            )
        })?;
        let texts = read_all(&self.days_off_files, "calendar.days_off_files")?;
        for (path, text) in &texts {
            check_days_file(text).with_context(|| format!("{}", path.display()))?;
        }
        let mut all = vec![VN_DAYS_OFF];
        all.extend(texts.iter().map(|(_, t)| t.as_str()));
        let cal = Calendar::with_days(&all, hours).context("calendar.working_hours")?;
        Ok(cal.with_same_day_cutoff(cutoff))
    }
}

impl ProceduresConfig {
    pub fn build(&self) -> anyhow::Result<Catalogue> {
        let texts = read_all(&self.catalogue_files, "procedures.catalogue_files")?;
        let refs: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
        Catalogue::builtin_with(&refs)
            .map_err(|(i, e)| anyhow::anyhow!("{}: {e}", texts[i].0.display()))
    }
}

fn read_all(paths: &[PathBuf], key: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
    paths
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|t| (p.clone(), t))
                .with_context(|| format!("{key}: cannot read {}", p.display()))
        })
        .collect()
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
            store: StoreConfig::default(),
            kafka: KafkaConfig::default(),
            http: HttpConfig::default(),
            ingest: IngestConfig::default(),
            processor: ProcessorConfig::default(),
            query: QueryConfig::default(),
            calendar: CalendarConfig::default(),
            procedures: ProceduresConfig::default(),
            units: UnitsConfig::default(),
            sources: SourcesConfig::default(),
            auth: AuthConfig::default(),
            alerting: AlertingConfig::default(),
            due_rules: DueRules::vietnam(),
            unit_list: Units::official(),
            portal_units: None,
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
        Auth::new(&config.auth).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.due_rules = DueRules::new(
            Arc::new(config.procedures.build()?),
            Arc::new(config.calendar.build()?),
        );
        config.unit_list = Arc::new(config.units.build()?);
        config.portal_units = config.sources.dvcqg.build(&config.unit_list)?.map(Arc::new);
        config.propagate();
        Ok(config)
    }

    /// Copies the shared Kafka settings into the components' configs.
    pub fn propagate(&mut self) {
        self.ingest.brokers = self.kafka.brokers.clone();
        self.ingest.topic = self.kafka.topic.clone();
        self.processor.brokers = self.kafka.brokers.clone();
        self.processor.topic = self.kafka.topic.clone();
        self.processor.due_rules = self.due_rules.clone();
        self.processor.at_risk_working_hours = self.query.at_risk_working_hours;
        self.query.due_rules = self.due_rules.clone();
        self.query.units = self.unit_list.clone();
    }

    /// The units ingest checks events against; `None` when `units.check`
    /// is off.
    pub fn checked_units(&self) -> Option<Arc<Units>> {
        self.units.check.then(|| self.unit_list.clone())
    }

    /// The effective configuration as TOML (`hoso config print`). It holds
    /// no secret: tokens are kept only as their SHA-256.
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
    fn store_options_take_any_scalar_as_text() {
        let c = Config::load(
            None,
            env(&[
                ("HOSO_STORE__URL", "s3://bucket/prefix"),
                ("HOSO_STORE__OPTIONS__AWS_ALLOW_HTTP", "true"),
                ("HOSO_STORE__OPTIONS__AWS_ENDPOINT", "http://127.0.0.1:9000"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.store.options["aws_allow_http"], "true");
        assert_eq!(c.store.options["aws_endpoint"], "http://127.0.0.1:9000");
        let err = Config::load(
            None,
            env(&[("HOSO_STORE__OPTIONS__AWS_REGION", "[1, 2]")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("not a scalar"), "{err:#}");
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
    fn calendar_and_catalogue_files_extend_the_builtin_ones() {
        let dir = std::env::temp_dir().join(format!("hoso-config-cal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let days = dir.join("days.csv");
        std::fs::write(
            &days,
            "date,kind,note\n2028-01-03,holiday,a local day off\n",
        )
        .unwrap();
        let procs = dir.join("procs.csv");
        std::fs::write(
            &procs,
            "code,name_vi,name_en,deadline,fee_vnd,online,level,source\n\
             9.000001,Thủ tục riêng,Local procedure,2,0,none,commune,local decision\n",
        )
        .unwrap();
        let env = env(&[
            (
                "HOSO_CALENDAR__DAYS_OFF_FILES",
                &format!("[{:?}]", days.display().to_string()),
            ),
            (
                "HOSO_CALENDAR__WORKING_HOURS",
                r#"["08:00-12:00", "13:30-17:30"]"#,
            ),
            ("HOSO_CALENDAR__SAME_DAY_CUTOFF", "16:00"),
            (
                "HOSO_PROCEDURES__CATALOGUE_FILES",
                &format!("[{:?}]", procs.display().to_string()),
            ),
        ]);
        let c = Config::load(None, env, &Overrides::default()).unwrap();
        let cal = &c.due_rules.calendar;
        let monday = hoso_model::time::days_from_civil(2028, 1, 3) as i32;
        assert!(!cal.is_working_day(monday));
        assert_eq!(cal.hours(), &[(480, 720), (810, 1050)]);
        assert_eq!(cal.same_day_cutoff_min(), 960);
        assert!(c.due_rules.catalogue.get("9.000001").is_some());
        assert!(
            c.due_rules.catalogue.get("1.001193").is_some(),
            "built-in rows stay"
        );
        assert_eq!(
            c.processor.due_rules, c.due_rules,
            "the components get the same rules"
        );
        assert_eq!(c.query.due_rules, c.due_rules);

        // A bad file or value is named in the error.
        std::fs::write(&days, "2028-01-03,feast\n").unwrap();
        let err = Config::load(
            None,
            env_pair(
                "HOSO_CALENDAR__DAYS_OFF_FILES",
                &format!("[{:?}]", days.display().to_string()),
            ),
            &Overrides::default(),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("days.csv") && msg.contains("line 1"), "{msg}");
        let err = Config::load(
            None,
            env_pair("HOSO_CALENDAR__WORKING_HOURS", r#"["17:00-08:00"]"#),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("17:00-08:00"), "{err:#}");
        let err = Config::load(
            None,
            env_pair(
                "HOSO_PROCEDURES__CATALOGUE_FILES",
                r#"["/nonexistent/procs.csv"]"#,
            ),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/procs.csv"),
            "{err:#}"
        );
    }

    fn env_pair(k: &str, v: &str) -> Vec<(String, String)> {
        vec![(k.to_string(), v.to_string())]
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
        // And it shows every key, each under its section.
        let text = std::fs::read_to_string(&example).unwrap();
        let listed: toml::Table = toml::from_str(&text).unwrap();
        let defaults: toml::Table = toml::from_str(&Config::default().to_toml().unwrap()).unwrap();
        for (key, value) in &defaults {
            match value.as_table() {
                Some(section) => {
                    for k in section.keys() {
                        assert!(
                            listed.get(key).and_then(|t| t.get(k)).is_some(),
                            "deploy/hoso.example.toml lacks {key}.{k}"
                        );
                    }
                }
                None => assert!(
                    listed.contains_key(key),
                    "deploy/hoso.example.toml lacks {key}"
                ),
            }
        }
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

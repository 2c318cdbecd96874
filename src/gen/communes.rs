//! The communes to simulate: read from the reference list (or made up),
//! filtered, sampled, and each given its daily volume.
//!
//! Volumes are heavy-tailed, as they are in Vietnam: most commune centers
//! take a few hundred filings a day, a few large wards about 2,000. A
//! commune's volume depends only on the seed and its code, so it is the
//! same whichever other communes a run includes.

use std::path::{Path, PathBuf};

use super::GenError;
use super::rng::Rng;

/// The columns of the communes CSV, in order (../shared/reference/communes.csv):
/// the same file makes the SQL table `communes`.
pub use hoso_query::communes::COLUMNS;

/// Shape (sigma of the log) of the lognormal of daily volumes: with a
/// median of 300, one commune in a hundred takes about 2,000 a day.
const SIZE_SIGMA: f64 = 0.75;

/// No commune is drawn above this multiple of the median, nor below its
/// inverse: the lognormal's far tail would give a commune of 10,000 a day.
const SIZE_CAP: f64 = 7.0;

/// Kind of local unit: wards (urban) see more filings than rural communes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitType {
    /// Phường.
    Ward,
    /// Xã.
    Commune,
    /// Đặc khu: island special zones.
    SpecialZone,
}

impl UnitType {
    fn parse(s: &str) -> Option<UnitType> {
        Some(match s {
            "Phường" | "phuong" | "ward" => UnitType::Ward,
            "Xã" | "xa" | "commune" => UnitType::Commune,
            "Đặc khu" | "dac_khu" | "special_zone" => UnitType::SpecialZone,
            _ => return None,
        })
    }

    /// Multiplier of the median daily volume.
    fn size_factor(self) -> f64 {
        match self {
            UnitType::Ward => 1.5,
            UnitType::Commune => 0.9,
            UnitType::SpecialZone => 0.6,
        }
    }
}

/// One commune center.
#[derive(Clone, Debug, PartialEq)]
pub struct Commune {
    /// Two digits, as the contract writes it.
    pub province_code: String,
    pub province_name: String,
    /// Five digits, as the contract writes it.
    pub commune_code: String,
    pub commune_name: String,
    pub unit_type: UnitType,
    /// Mean filings received on an ordinary working day (set by [`assign_sizes`]).
    pub daily_mean: f64,
}

impl Commune {
    /// The commune code as a number, for deriving random streams.
    pub fn code_number(&self) -> u64 {
        self.commune_code.parse().unwrap_or(0)
    }
}

/// Where the communes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommuneSource {
    Csv(PathBuf),
    /// Without a file: `per_province` communes of each province, from the
    /// official list hoso ships.
    Synthetic {
        per_province: usize,
    },
}

impl CommuneSource {
    /// The default: `../shared/reference/communes.csv` when it exists, a
    /// few communes of the shipped list per province otherwise.
    pub fn default_for(explicit: Option<PathBuf>) -> CommuneSource {
        if let Some(p) = explicit {
            return CommuneSource::Csv(p);
        }
        let reference = PathBuf::from("../shared/reference/communes.csv");
        if reference.is_file() {
            CommuneSource::Csv(reference)
        } else {
            CommuneSource::Synthetic { per_province: 20 }
        }
    }
}

/// Provinces simulated when none are asked for and the communes are made
/// up: Hà Nội and Hồ Chí Minh City.
const SYNTHETIC_DEFAULT_PROVINCES: [&str; 2] = ["01", "79"];

/// The communes of `source` in `provinces` (all when empty), at most
/// `cap` of them (a seeded sample, kept in file order), each with its
/// daily volume.
pub fn select(
    source: &CommuneSource,
    provinces: &[String],
    cap: Option<usize>,
    median_daily: f64,
    seed: u64,
) -> Result<Vec<Commune>, GenError> {
    for p in provinces {
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GenError::Usage(format!(
                "province code {p:?} must be two digits (e.g. 91 for An Giang)"
            )));
        }
    }
    let mut all = match source {
        CommuneSource::Csv(path) => read_csv(path)?,
        CommuneSource::Synthetic { per_province } => {
            let provinces: Vec<String> = if provinces.is_empty() {
                SYNTHETIC_DEFAULT_PROVINCES.map(String::from).to_vec()
            } else {
                provinces.to_vec()
            };
            // Enough made-up communes for the cap, spread over the provinces.
            let per = cap.map_or(*per_province, |c| {
                c.div_ceil(provinces.len().max(1)).max(*per_province)
            });
            synthetic(&provinces, per)
        }
    };
    if !provinces.is_empty() {
        all.retain(|c| provinces.contains(&c.province_code));
        if let Some(missing) = provinces
            .iter()
            .find(|p| !all.iter().any(|c| &c.province_code == *p))
        {
            return Err(GenError::Usage(format!(
                "province {missing} has no communes in {}",
                source_name(source)
            )));
        }
    }
    if all.is_empty() {
        return Err(GenError::Usage(format!(
            "no communes in {}",
            source_name(source)
        )));
    }
    if let Some(cap) = cap {
        if cap == 0 {
            return Err(GenError::Usage("--communes must be at least 1".into()));
        }
        sample(&mut all, cap, seed);
    }
    assign_sizes(&mut all, median_daily, seed);
    Ok(all)
}

fn source_name(source: &CommuneSource) -> String {
    match source {
        CommuneSource::Csv(p) => p.display().to_string(),
        CommuneSource::Synthetic { .. } => "the synthetic communes".into(),
    }
}

/// Keeps `cap` communes chosen by a seeded shuffle, in their original order.
fn sample(all: &mut Vec<Commune>, cap: usize, seed: u64) {
    if all.len() <= cap {
        return;
    }
    let mut rng = Rng::derive(seed, &[0x005A_3D1E]);
    let mut order: Vec<usize> = (0..all.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut keep = vec![false; all.len()];
    for &i in &order[..cap] {
        keep[i] = true;
    }
    let mut i = 0;
    all.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// Draws each commune's mean daily volume: lognormal around the median,
/// shifted by its unit type, capped at [`SIZE_CAP`] times the median.
pub fn assign_sizes(communes: &mut [Commune], median_daily: f64, seed: u64) {
    for c in communes {
        let mut rng = Rng::derive(seed, &[0x512E, c.code_number()]);
        let drawn = rng.lognormal(median_daily * c.unit_type.size_factor(), SIZE_SIGMA);
        c.daily_mean = drawn.clamp(median_daily / SIZE_CAP, median_daily * SIZE_CAP);
    }
}

/// A few communes per province without a communes file: the first
/// `per_province` of each province in the official list hoso ships
/// (`hoso_model::units`), so every code is one ingest accepts.
pub fn synthetic(provinces: &[String], per_province: usize) -> Vec<Commune> {
    let per_province = per_province.max(1);
    let all = parse_csv(hoso_model::units::OFFICIAL).expect("the shipped list is valid");
    let mut out = Vec::with_capacity(provinces.len() * per_province);
    for p in provinces {
        out.extend(
            all.iter()
                .filter(|c| &c.province_code == p)
                .take(per_province)
                .cloned(),
        );
    }
    out
}

/// Reads the communes CSV; every error names the file and line.
pub fn read_csv(path: &Path) -> Result<Vec<Commune>, GenError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        GenError::Usage(format!(
            "cannot read the communes file {}: {e}",
            path.display()
        ))
    })?;
    parse_csv(&text)
        .map_err(|(line, message)| GenError::Usage(format!("{}:{line}: {message}", path.display())))
}

/// The communes of a CSV text, or (line, what is wrong).
pub fn parse_csv(text: &str) -> Result<Vec<Commune>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // `#` lines are comments (the source and license of the shipped list).
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#'));
    let header: Vec<&str> = match lines.next() {
        Some((_, h)) => h.trim_end_matches('\r').split(',').map(str::trim).collect(),
        None => return Err((1, "the file is empty".into())),
    };
    let index = |name: &str| header.iter().position(|h| *h == name);
    let Some(cols) = COLUMNS.iter().map(|c| index(c)).collect::<Option<Vec<_>>>() else {
        return Err((
            1,
            format!("the header must name the columns {}", COLUMNS.join(",")),
        ));
    };
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, raw) in lines {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let n = i + 1;
        let get = |k: usize| fields.get(cols[k]).copied().unwrap_or("");
        let (province, commune) = (get(0), get(2));
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(province, 2) {
            return Err((n, format!("province_code {province:?} must be two digits")));
        }
        if !digits(commune, 5) {
            return Err((n, format!("commune_code {commune:?} must be five digits")));
        }
        if !seen.insert(commune.to_string()) {
            return Err((n, format!("commune_code {commune} appears twice")));
        }
        let unit = get(4);
        let unit_type = UnitType::parse(unit).ok_or_else(|| {
            (
                n,
                format!("unit_type {unit:?} must be Phường, Xã or Đặc khu"),
            )
        })?;
        out.push(Commune {
            province_code: province.to_string(),
            province_name: get(1).to_string(),
            commune_code: commune.to_string(),
            commune_name: get(3).to_string(),
            unit_type,
            daily_mean: 0.0,
        });
    }
    Ok(out)
}

//! Which procedures filings are for: the built-in catalogue, weighted by
//! how often a commune center sees each one.

use hoso_model::catalogue::{Catalogue, Online};

use super::rng::{Rng, cumulative};

/// Relative frequency at a commune center, by procedure code. Certified
/// copies and civil status dominate a commune's counter; a procedure the
/// catalogue has and this table does not gets [`OTHER_WEIGHT`].
const WEIGHTS: [(&str, f64); 6] = [
    ("2.000815", 40.0), // certified copy from the original
    ("1.001193", 18.0), // birth registration
    ("1.004194", 14.0), // permanent residence registration
    ("1.003003", 8.0),  // first land registration
    ("1.000894", 6.0),  // marriage registration
    ("2.000488", 4.0),  // judicial record certificate
];

const OTHER_WEIGHT: f64 = 2.0;

/// What the generator needs of one procedure.
#[derive(Clone, Debug)]
pub struct ProcedureInfo {
    pub code: String,
    /// The code as a JSON string, quotes included, written once.
    pub code_json: String,
    pub fee_required: bool,
    pub online: Online,
}

/// The procedures and their cumulative weights, for all channels and for
/// online filings (only procedures that can be done online).
#[derive(Clone, Debug)]
pub struct Procedures {
    pub list: Vec<ProcedureInfo>,
    all: Vec<f64>,
    online: Vec<f64>,
}

impl Procedures {
    pub fn new(catalogue: &Catalogue) -> Procedures {
        let list: Vec<ProcedureInfo> = catalogue
            .procedures()
            .iter()
            .map(|p| ProcedureInfo {
                code: p.code.clone(),
                code_json: serde_json::Value::from(p.code.as_str()).to_string(),
                fee_required: p.fee_vnd > 0,
                online: p.online,
            })
            .collect();
        let weight = |code: &str| {
            WEIGHTS
                .iter()
                .find(|(c, _)| *c == code)
                .map_or(OTHER_WEIGHT, |(_, w)| *w)
        };
        let all = cumulative(list.iter().map(|p| weight(&p.code)));
        let online = cumulative(list.iter().map(|p| match p.online {
            Online::None => 0.0,
            Online::Full | Online::Partial => weight(&p.code),
        }));
        Procedures { list, all, online }
    }

    /// Whether any procedure can be filed online.
    pub fn any_online(&self) -> bool {
        self.online.last().is_some_and(|&t| t > 0.0)
    }

    /// A procedure index for a filing of this channel.
    pub fn draw(&self, online: bool, rng: &mut Rng) -> usize {
        if online {
            rng.pick(&self.online)
        } else {
            rng.pick(&self.all)
        }
    }
}

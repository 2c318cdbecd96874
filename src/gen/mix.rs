//! The shares and sizes a generated stream aims for. Every share is a
//! probability in [0, 1]; the tests check that the stream produces them.

use super::GenError;

/// What the stream looks like on average.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    /// Median of the communes' mean daily volumes (received filings on an
    /// ordinary working day); the largest communes take about 7 times it.
    pub median_daily: f64,
    /// Share of received filings that came online (National Public
    /// Service Portal).
    pub online_share: f64,
    /// Share of received filings that came by post.
    pub postal_share: f64,
    /// Share of received filings whose applicant used level-2 e-ID.
    pub eid_share: f64,
    /// Share of in-person and postal dossiers digitised at intake (online
    /// dossiers are digital by nature).
    pub digitized_share: f64,
    /// Share of received filings sent back at least once for more documents.
    pub supplement_share: f64,
    /// Share of those sent back a second time (late by the Decision 766 rule).
    pub second_supplement_share: f64,
    /// Share of received filings the citizen withdraws.
    pub withdrawn_share: f64,
    /// Share of online submissions refused at intake (`not_received`).
    pub not_received_share: f64,
    /// Share of ended filings refused (`stopped`) rather than resolved.
    pub refusal_share: f64,
    /// Share of filings resolved after their effective due date (besides
    /// the double-supplement ones, which are late by rule).
    pub late_share: f64,
    /// Share of on-time filings resolved on the due date itself (the spike
    /// of a center working to its appointments); the rest end earlier.
    pub due_day_share: f64,
    /// Share of `received` events sent without `due_at`, for hoso to
    /// compute from the procedure catalogue.
    pub omit_due_share: f64,
    /// Share of in-person and postal fees paid online.
    pub office_online_payment_share: f64,
    /// Share of online filings' fees paid online.
    pub online_online_payment_share: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            median_daily: 300.0,
            online_share: 0.15,
            postal_share: 0.03,
            eid_share: 0.9,
            digitized_share: 0.8,
            supplement_share: 0.10,
            second_supplement_share: 0.05,
            withdrawn_share: 0.01,
            not_received_share: 0.05,
            refusal_share: 0.015,
            late_share: 0.02,
            due_day_share: 0.2,
            omit_due_share: 0.0,
            office_online_payment_share: 0.3,
            online_online_payment_share: 0.85,
        }
    }
}

impl Mix {
    /// Every share a probability, the channels not over 1, a positive size.
    pub fn validate(&self) -> Result<(), GenError> {
        let shares = [
            ("online-share", self.online_share),
            ("postal-share", self.postal_share),
            ("eid-share", self.eid_share),
            ("digitized-share", self.digitized_share),
            ("supplement-share", self.supplement_share),
            ("second-supplement-share", self.second_supplement_share),
            ("withdrawn-share", self.withdrawn_share),
            ("not-received-share", self.not_received_share),
            ("refusal-share", self.refusal_share),
            ("late-share", self.late_share),
            ("due-day-share", self.due_day_share),
            ("omit-due-share", self.omit_due_share),
            (
                "office-online-payment-share",
                self.office_online_payment_share,
            ),
            (
                "online-online-payment-share",
                self.online_online_payment_share,
            ),
        ];
        for (name, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return Err(GenError::Usage(format!(
                    "--{name} must be between 0 and 1, got {v}"
                )));
            }
        }
        if self.online_share + self.postal_share > 1.0 {
            return Err(GenError::Usage(format!(
                "--online-share + --postal-share must not exceed 1 (got {} + {})",
                self.online_share, self.postal_share
            )));
        }
        if self.not_received_share >= 1.0 && self.online_share > 0.0 {
            return Err(GenError::Usage(
                "--not-received-share must be below 1: no online filing would ever be received"
                    .into(),
            ));
        }
        if !(self.median_daily.is_finite() && self.median_daily > 0.0) {
            return Err(GenError::Usage(format!(
                "--median-daily must be a positive number of filings, got {}",
                self.median_daily
            )));
        }
        Ok(())
    }
}

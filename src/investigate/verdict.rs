//! Turns findings into a verdict: the points add up to a score, and fixed
//! thresholds on the score give `escalate`, `review` or `likely benign`.
//! The reasons are the findings that added points, strongest first; the
//! counter-evidence is listed whether or not it took points away, so an
//! analyst sees why something that looks odd was discounted.

use serde::Serialize;

use super::Finding;

/// From this score on, an alert is escalated.
pub const ESCALATE_AT: f64 = 4.0;
/// From this score on, an alert deserves an analyst's look.
pub const REVIEW_AT: f64 = 2.0;

/// The outcome of an investigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "escalate")]
    Escalate,
    #[serde(rename = "review")]
    Review,
    #[serde(rename = "likely benign")]
    LikelyBenign,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Escalate => "escalate",
            Verdict::Review => "review",
            Verdict::LikelyBenign => "likely benign",
        }
    }

    pub fn from_score(score: f64) -> Self {
        if score >= ESCALATE_AT {
            Verdict::Escalate
        } else if score >= REVIEW_AT {
            Verdict::Review
        } else {
            Verdict::LikelyBenign
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Score, verdict and the explanations.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighed {
    pub score: f64,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub counter_evidence: Vec<String>,
}

/// Adds up the findings' points.
pub fn weigh(findings: &[Finding]) -> Weighed {
    let score: f64 = findings.iter().map(|f| f.points).sum();
    let score = (score * 10.0).round() / 10.0;
    let mut positive: Vec<&Finding> = findings.iter().filter(|f| f.points > 0.0 && !f.counter).collect();
    positive.sort_by(|a, b| b.points.total_cmp(&a.points));
    Weighed {
        score,
        verdict: Verdict::from_score(score),
        reasons: positive.iter().map(|f| format!("{} (+{})", f.summary, f.points)).collect(),
        counter_evidence: findings
            .iter()
            .filter(|f| f.counter)
            .map(|f| if f.points < 0.0 { format!("{} ({})", f.summary, f.points) } else { f.summary.clone() })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::Evidence;

    fn f(points: f64, counter: bool, summary: &str) -> Finding {
        Finding { check: "x".into(), summary: summary.into(), points, counter, evidence: Evidence::default() }
    }

    #[test]
    fn investigate_verdict_thresholds_and_explanations() {
        let w = weigh(&[f(3.0, false, "beacon"), f(1.0, false, "new"), f(-4.0, true, "routine"), f(0.0, true, "common")]);
        assert_eq!(w.score, 0.0);
        assert_eq!(w.verdict, Verdict::LikelyBenign);
        assert_eq!(w.reasons, vec!["beacon (+3)", "new (+1)"]);
        assert_eq!(w.counter_evidence, vec!["routine (-4)", "common"]);
        assert_eq!(weigh(&[f(2.0, false, "a")]).verdict, Verdict::Review);
        assert_eq!(weigh(&[f(2.0, false, "a"), f(2.0, false, "b")]).verdict, Verdict::Escalate);
    }
}

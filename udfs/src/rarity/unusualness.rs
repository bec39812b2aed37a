//! `unusualness(entity, value [, half_life])`: a 0-100 score that judges a
//! value by the entity's own history, with the fleet's prevalence as prior.

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowFunctionSimplification, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, WindowUDF, WindowUDFImpl};
use datafusion_macros::user_doc;

use super::history;
use super::plan::{self, Param, Spec};

static SPEC: Spec = Spec { name: "unusualness", param: Param::HalfLife };

/// Weight of the fleet prior, in pseudo-rows of the entity's history.
const PRIOR_ROWS: f64 = 10.0;
/// Bits of surprise that score 100.
const FULL_SCALE_BITS: f64 = 16.0;

/// The `functions.md` formula:
///
/// ```text
/// pi_v = (D_v + 1) / (E + 2)
/// p    = (C_ev + 10 * pi_v) / (N_e + 10)
/// 100 * least(1, -log2(p) / 16)
/// ```
pub(crate) fn unusualness(n_e: f64, c_ev: f64, d_v: u64, e: u64) -> f64 {
    let fleet_prevalence = (d_v as f64 + 1.0) / (e as f64 + 2.0);
    let p = (c_ev + PRIOR_ROWS * fleet_prevalence) / (n_e + PRIOR_ROWS);
    (100.0 * (-p.log2() / FULL_SCALE_BITS).min(1.0)).max(0.0)
}

#[user_doc(
    doc_section(label = "Rarity Functions"),
    description = r#"A score in [0, 100] of how unusual `value` is for `entity`: the entity's own history decides when it has one, the fleet's prevalence of the value otherwise. With `N_e`, `C_ev` as for `entity_surprise` and `D_v`, `E` as for `population_surprise`: `pi_v = (D_v + 1) / (E + 2)`, `p = (C_ev + 10 * pi_v) / (N_e + 10)`, result `100 * least(1, -log2(p) / 16)`.

The score is bounded by the evidence: a value new to both the entity and the fleet reaches `100 * log2((E + 2) * (N_e + 10) / 10) / 16` at most, so threshold on the surprises and counts, or on unusualness relative to the fleet's own distribution, rather than on one fixed value. History is the rows of the same partition with a strictly earlier `ORDER BY` time; rows with equal times never see each other. A NULL value counts toward `N_e` and `E` but never matches. A row with a NULL entity or NULL time returns NULL and is nobody's history. With `half_life`, a history row `dt` earlier weighs `2^(-dt / half_life)` in `N_e` and `C_ev` (`D_v` and `E` are never decayed)."#,
    syntax_example = "unusualness(entity, value [, half_life]) OVER ([PARTITION BY scope] ORDER BY time)",
    argument(name = "entity", description = "Who the value belongs to, e.g. a device id. Any comparable type."),
    argument(name = "value", description = "What is observed, e.g. `vendor || ':' || title`. Any comparable type."),
    argument(
        name = "half_life",
        description = "Optional constant INTERVAL (days, hours, ... but not months) after which a history row weighs half. With an integer `ORDER BY`, a number in the same units."
    ),
    sql_example = r#"```sql
> SELECT entity, value, round(unusualness(entity, value) OVER (ORDER BY time), 2) AS score
  FROM (VALUES ('pc1', 'a', 1), ('pc1', 'a', 2), ('pc2', 'b', 3)) AS t(entity, value, time);
+--------+-------+-------+
| entity | value | score |
+--------+-------+-------+
| pc1    | a     | 6.25  |
| pc1    | a     | 3.26  |
| pc2    | b     | 9.91  |
+--------+-------+-------+
```"#
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Unusualness {
    signature: Signature,
    /// Whether this is the rewritten call that carries its ORDER BY time.
    ordered: bool,
}

impl Unusualness {
    pub fn new() -> Self {
        Self { signature: plan::signature(), ordered: false }
    }

    fn ordered() -> WindowUDF {
        WindowUDF::new_from_impl(Self { signature: plan::signature(), ordered: true })
    }
}

impl Default for Unusualness {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowUDFImpl for Unusualness {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        plan::coerce_types(&SPEC, arg_types)
    }

    fn simplify(&self) -> Option<WindowFunctionSimplification> {
        plan::simplifier(&SPEC, self.ordered, Self::ordered)
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(UnusualnessEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Field::new(field_args.name(), DataType::Float64, true).into())
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct UnusualnessEvaluator;

impl PartitionEvaluator for UnusualnessEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let call = plan::bind(&SPEC, values)?;
        let half_life = call.param.map(|span| span.ticks());
        history::float64_column(&call, half_life, |seen| unusualness(seen.n_e, seen.c_ev, seen.d_v, seen.e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{days, float64s, no_param, ordered_columns};
    use super::*;

    fn run(rows: &[(Option<&str>, Option<&str>, i64)], param: datafusion::common::ScalarValue) -> Vec<Option<f64>> {
        let columns = ordered_columns(rows, param);
        float64s(&UnusualnessEvaluator.evaluate_all(&columns, rows.len()).unwrap())
    }

    fn round2(x: f64) -> f64 {
        (x * 100.0).round() / 100.0
    }

    /// The reference table of `functions.md` (E = 1000, no decay).
    #[test]
    fn reference_values_of_the_contract() {
        assert_eq!(round2(unusualness(1000.0, 0.0, 0, 1000)), 100.00);
        assert_eq!(round2(unusualness(1000.0, 0.0, 500, 1000)), 47.86);
        assert_eq!(round2(unusualness(100.0, 50.0, 1, 1000)), 7.11);
        assert_eq!(round2(unusualness(0.0, 0.0, 0, 1000)), 62.30);
    }

    #[test]
    fn bounded_by_the_evidence() {
        // New to entity and fleet: 100 * log2((E + 2) * (N_e + 10) / 10) / 16.
        let bound = 100.0 * (52.0f64 * 15.0 / 10.0).log2() / 16.0;
        assert!((unusualness(5.0, 0.0, 0, 50) - bound).abs() < 1e-12);
        assert!(bound < 50.0);
    }

    #[test]
    fn hand_checked_sequence() {
        let rows = [(Some("pc1"), Some("a"), 1), (Some("pc1"), Some("a"), 2), (Some("pc2"), Some("b"), 3)];
        // Row 1: p = 5/10 -> 1 bit; row 2: p = (1 + 20/3)/11 = 23/33; row 3: p = 1/3.
        let expected = [6.25, -100.0 * (23.0f64 / 33.0).log2() / 16.0, 100.0 * 3f64.log2() / 16.0];
        let got = run(&rows, no_param());
        for (got, expected) in got.iter().zip(expected) {
            assert!((got.unwrap() - expected).abs() < 1e-12, "{got:?} vs {expected}");
        }
    }

    #[test]
    fn ties_nulls_and_empty_input() {
        assert_eq!(run(&[], no_param()), vec![]);
        let rows = [(Some("pc1"), Some("a"), 1), (Some("pc1"), Some("a"), 1), (None, Some("a"), 1)];
        assert_eq!(run(&rows, no_param()), vec![Some(6.25), Some(6.25), None]);
        // A NULL value: C = 0, D = 0, but N and E count it.
        let rows = [(Some("pc1"), None, 1), (Some("pc1"), None, 2)];
        // Row 2: N = 1, E = 1, pi = 1/3, p = (10/3)/11 = 10/33.
        let got = run(&rows, no_param())[1].unwrap();
        assert!((got + 100.0 * (10.0f64 / 33.0).log2() / 16.0).abs() < 1e-12);
    }

    #[test]
    fn decay_forgets_the_entitys_old_habits() {
        // Recurring value, one half-life apart: N = C = 0.5 at row 2.
        let rows = [(Some("pc1"), Some("a"), 0), (Some("pc1"), Some("a"), 86_400)];
        let got = run(&rows, days(1))[1].unwrap();
        let expected = unusualness(0.5, 0.5, 1, 1);
        assert!((got - expected).abs() < 1e-12);
        assert!(got > run(&rows, no_param())[1].unwrap());
    }
}

//! PostgreSQL functions that clients call while connecting and that
//! datafusion-pg-catalog does not provide: `version()` in the form drivers
//! parse (SQLAlchemy refuses to connect otherwise) and `current_setting`
//! backed by the session's [`PgSettings`].

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::settings::{PgSettings, SERVER_VERSION};

/// `version()` text: a PostgreSQL-shaped string naming huntlake.
pub fn server_version() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (huntlake {}) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION")
    )
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Version::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSetting::new()));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Version {
    signature: Signature,
}

impl Version {
    fn new() -> Self {
        Self { signature: Signature::nullary(Volatility::Stable) }
    }
}

impl ScalarUDFImpl for Version {
    fn name(&self) -> &str {
        "version"
    }

    fn aliases(&self) -> &[String] {
        &[]
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::Utf8(Some(server_version()))))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    signature: Signature,
}

impl CurrentSetting {
    fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
        }
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let settings = args
            .config_options
            .extensions
            .get::<PgSettings>()
            .cloned()
            .unwrap_or_default();
        let missing_ok = match args.args.get(1) {
            Some(ColumnarValue::Scalar(datafusion::common::ScalarValue::Boolean(Some(b)))) => *b,
            _ => false,
        };
        let names = args.args[0].to_array(args.number_rows)?;
        let names = as_string_array(&names)?;
        let values = names
            .iter()
            .map(|name| match name {
                None => Ok(None),
                Some(n) => match settings.get(n) {
                    Ok(v) => Ok(Some(v)),
                    Err(_) if missing_ok => Ok(None),
                    Err(e) => Err(DataFusionError::Plan(e.to_string())),
                },
            })
            .collect::<Result<StringArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(values) as ArrayRef))
    }
}

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
    register_client_functions(ctx);
    register_int2vector(ctx);
    register_expandarray(ctx);
    register_indexdef(ctx);
    register_json_build_object(ctx);
    register_if(ctx);
    register_like_escape(ctx);
    register_null(ctx);
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

/// PostgreSQL functions huntlake answers with a fixed shape, registered by
/// [`register_client_functions`]:
///
/// - `set_config(name, value, is_local)` returns `value`; the session setting
///   itself is changed by the server after the statement is planned (a
///   function cannot change its session), see `server::statement::set_config_calls`.
/// - `pg_get_serial_sequence(table, column)` is NULL: lake tables have no
///   serial or identity columns.
/// - `to_regtype(name)` is the canonical type name, NULL for unknown types.
/// - `pg_cancel_backend(pid)` is false: huntlake has no backend processes
///   addressable by pid (PostgreSQL answers false, with a warning, for a pid
///   that is not a backend). Clients cancel with the protocol's CancelRequest.
/// - `pg_advisory_unlock_all()` releases nothing (huntlake takes no advisory
///   locks); it returns void in PostgreSQL, NULL here.
pub fn register_client_functions(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Fixed::new(
        "set_config",
        vec![DataType::Utf8, DataType::Utf8, DataType::Boolean],
        DataType::Utf8,
        FixedKind::SecondArg,
    )));
    ctx.register_udf(ScalarUDF::new_from_impl(Fixed::new(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        FixedKind::Null,
    )));
    ctx.register_udf(ScalarUDF::new_from_impl(Fixed::new(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Utf8,
        FixedKind::RegType,
    )));
    ctx.register_udf(ScalarUDF::new_from_impl(Fixed::new(
        "pg_cancel_backend",
        vec![DataType::Int64],
        DataType::Boolean,
        FixedKind::False,
    )));
    ctx.register_udf(ScalarUDF::new_from_impl(Fixed::new(
        "pg_advisory_unlock_all",
        vec![],
        DataType::Utf8,
        FixedKind::Null,
    )));
}

#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum FixedKind {
    /// `true` for every row.
    True,
    /// The second argument (`set_config`).
    SecondArg,
    /// NULL of the return type.
    Null,
    /// `false` for every row.
    False,
    /// The canonical PostgreSQL name of the type named by the argument.
    RegType,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Fixed {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    kind: FixedKind,
}

impl Fixed {
    fn new(name: &'static str, args: Vec<DataType>, returns: DataType, kind: FixedKind) -> Self {
        let signature = if args.is_empty() {
            Signature::nullary(Volatility::Volatile)
        } else {
            Signature::coercible(
                args.into_iter()
                    .map(|t| {
                        use datafusion::logical_expr::{Coercion, TypeSignatureClass};
                        let class = match t {
                            DataType::Utf8 => TypeSignatureClass::Native(datafusion::common::types::logical_string()),
                            DataType::Boolean => TypeSignatureClass::Native(datafusion::common::types::logical_boolean()),
                            _ => TypeSignatureClass::Integer,
                        };
                        Coercion::new_implicit(
                            class,
                            vec![TypeSignatureClass::Native(datafusion::common::types::logical_null())],
                            t.clone().into(),
                        )
                    })
                    .collect(),
                Volatility::Volatile,
            )
        };
        Self { name, signature, returns, kind }
    }
}

impl ScalarUDFImpl for Fixed {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::common::ScalarValue;
        let rows = args.number_rows;
        match self.kind {
            FixedKind::Null => Ok(ColumnarValue::Scalar(ScalarValue::try_from(&self.returns)?)),
            FixedKind::False => Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(false)))),
            FixedKind::True => Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true)))),
            FixedKind::SecondArg => {
                let values = args.args[1].to_array(rows)?;
                Ok(ColumnarValue::Array(arrow::compute::cast(&values, &DataType::Utf8)?))
            }
            FixedKind::RegType => {
                let names = args.args[0].to_array(rows)?;
                let names = arrow::compute::cast(&names, &DataType::Utf8)?;
                let names = as_string_array(&names)?;
                let out: StringArray = names.iter().map(|n| n.and_then(regtype_name)).collect();
                Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
            }
        }
    }
}

/// `to_regtype`: the canonical name of a built-in type, given any of the
/// names PostgreSQL accepts for it (`int4`, `integer`, `pg_catalog.int4`,
/// `"timestamptz"`, `varchar(10)`); `None` for unknown types.
pub fn regtype_name(input: &str) -> Option<String> {
    let mut t = input.trim().to_ascii_lowercase();
    if let Some(rest) = t.strip_prefix("pg_catalog.") {
        t = rest.to_string();
    }
    let t = t.trim_matches('"');
    let (base, array) = match t.strip_suffix("[]") {
        Some(b) => (b.trim(), true),
        None => (t, false),
    };
    // Type modifiers: `varchar(10)` -> `character varying`.
    let base = base.split('(').next().unwrap_or(base).trim();
    let canonical = match base {
        "bool" | "boolean" => "boolean",
        "bytea" => "bytea",
        "char" => "\"char\"",
        "name" => "name",
        "int8" | "bigint" => "bigint",
        "int2" | "smallint" => "smallint",
        "int4" | "int" | "integer" => "integer",
        "text" => "text",
        "oid" => "oid",
        "json" => "json",
        "jsonb" => "jsonb",
        "xml" => "xml",
        "float4" | "real" => "real",
        "float8" | "double precision" => "double precision",
        "money" => "money",
        "bpchar" | "character" => "character",
        "varchar" | "character varying" => "character varying",
        "date" => "date",
        "time" | "time without time zone" => "time without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "interval" => "interval",
        "numeric" | "decimal" => "numeric",
        "uuid" => "uuid",
        "inet" => "inet",
        "cidr" => "cidr",
        "macaddr" => "macaddr",
        "bit" => "bit",
        "varbit" | "bit varying" => "bit varying",
        "regclass" => "regclass",
        "regtype" => "regtype",
        "regproc" => "regproc",
        "regnamespace" => "regnamespace",
        "void" => "void",
        "record" => "record",
        "unknown" => "unknown",
        "hstore" | "geometry" | "geography" | "vector" | "citext" => return None,
        _ => return None,
    };
    Some(if array { format!("{canonical}[]") } else { canonical.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn one(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
    }

    #[tokio::test]
    async fn client_functions() {
        let ctx = SessionContext::new();
        register_client_functions(&ctx);
        assert!(one(&ctx, "SELECT set_config('application_name', 'x', false) AS v").await.contains("| x "));
        assert!(one(&ctx, "SELECT pg_get_serial_sequence('edr_alerts', 'time') IS NULL AS v").await.contains("true"));
        assert!(one(&ctx, "SELECT to_regtype('int4') AS v").await.contains("integer"));
        assert!(one(&ctx, "SELECT to_regtype('hstore') IS NULL AS v").await.contains("true"));
        assert!(one(&ctx, "SELECT pg_cancel_backend(1234) AS v").await.contains("false"));
        assert!(one(&ctx, "SELECT pg_advisory_unlock_all() IS NULL AS v").await.contains("true"));
    }

    #[test]
    fn regtype_names() {
        assert_eq!(regtype_name("pg_catalog.timestamptz").as_deref(), Some("timestamp with time zone"));
        assert_eq!(regtype_name("varchar(10)").as_deref(), Some("character varying"));
        assert_eq!(regtype_name("int8[]").as_deref(), Some("bigint[]"));
        assert_eq!(regtype_name("no_such_type"), None);
    }
}

/// `_huntlake_int2vector(text)`: datafusion-pg-catalog stores `int2vector`
/// columns (`pg_index.indkey`, `pg_constraint.conkey`, ...) as text (`1 2`,
/// `[1, 2]`); catalog-query rewrites wrap them in this function where
/// PostgreSQL uses them as arrays (`unnest`, subscripts).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Int2Vector {
    signature: Signature,
}

impl ScalarUDFImpl for Int2Vector {
    fn name(&self) -> &str {
        "_huntlake_int2vector"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::new_list(DataType::Int16, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use arrow::array::{Int16Builder, ListBuilder};
        let input = args.args[0].to_array(args.number_rows)?;
        let input = arrow::compute::cast(&input, &DataType::Utf8)?;
        let input = as_string_array(&input)?;
        let mut out = ListBuilder::new(Int16Builder::new());
        for v in input.iter() {
            match v {
                None => out.append(false),
                Some(text) => {
                    for part in parse_int_vector(text) {
                        out.values().append_value(part);
                    }
                    out.append(true);
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `1 2`, `[1, 2]`, `{1,2}` -> `[1, 2]`; unparsable parts are skipped.
pub fn parse_int_vector(text: &str) -> Vec<i16> {
    text.split(|c: char| c == ',' || c.is_whitespace() || "[]{}".contains(c))
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect()
}

pub fn register_int2vector(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Int2Vector {
        signature: Signature::any(1, Volatility::Immutable),
    }));
}

#[cfg(test)]
mod int2vector_tests {
    #[test]
    fn int_vectors() {
        assert_eq!(super::parse_int_vector("1 2"), vec![1, 2]);
        assert_eq!(super::parse_int_vector("[2, 20, 3]"), vec![2, 20, 3]);
        assert_eq!(super::parse_int_vector("{4,5}"), vec![4, 5]);
        assert!(super::parse_int_vector("").is_empty());
    }
}

/// `_huntlake_expandarray(array)`: the `(x, n)` records PostgreSQL's
/// `information_schema._pg_expandarray` returns, as a list of structs
/// (the catalog rewrite unnests it).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpandArray {
    signature: Signature,
}

fn expand_fields(element: &DataType) -> arrow::datatypes::Fields {
    use arrow::datatypes::Field;
    vec![Field::new("x", element.clone(), true), Field::new("n", DataType::Int32, false)].into()
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        "_huntlake_expandarray"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let element = match &args[0] {
            DataType::List(f) | DataType::LargeList(f) => f.data_type().clone(),
            other => return Err(DataFusionError::Plan(format!("_pg_expandarray needs an array, got {other}"))),
        };
        Ok(DataType::new_list(DataType::Struct(expand_fields(&element)), true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use arrow::array::{Array, Int32Array, ListArray, StructArray};
        use arrow::buffer::OffsetBuffer;
        let input = args.args[0].to_array(args.number_rows)?;
        let list = input
            .as_any()
            .downcast_ref::<ListArray>()
            .ok_or_else(|| DataFusionError::Plan("_pg_expandarray needs an array".into()))?;
        let element = list.value_type();
        // Positions 1..=len within each list, over the child values.
        let offsets = list.value_offsets();
        let mut n = vec![0i32; list.values().len()];
        for w in offsets.windows(2) {
            for (i, pos) in (w[0] as usize..w[1] as usize).enumerate() {
                n[pos] = i as i32 + 1;
            }
        }
        let structs = StructArray::try_new(
            expand_fields(&element),
            vec![list.values().clone(), Arc::new(Int32Array::from(n)) as ArrayRef],
            None,
        )?;
        let field = Arc::new(arrow::datatypes::Field::new_list_field(DataType::Struct(expand_fields(&element)), true));
        let out = ListArray::try_new(field, OffsetBuffer::new(offsets.to_vec().into()), Arc::new(structs), list.nulls().cloned())?;
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

pub fn register_expandarray(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(ExpandArray { signature: Signature::any(1, Volatility::Immutable) }));
}

/// `pg_get_indexdef(index_oid [, column, pretty])`: NULL. The only indexes
/// huntlake's catalog lists are PostgreSQL's own system-catalog indexes,
/// whose definitions it does not have; lake tables have no indexes.
/// (PostgreSQL also answers NULL for an OID that is not an index.)
pub fn register_indexdef(ctx: &SessionContext) {
    // Every collation lives in pg_catalog, which is always on the search path.
    ctx.register_udf(ScalarUDF::new_from_impl(Fixed {
        name: "pg_collation_is_visible",
        signature: Signature::any(1, Volatility::Stable),
        returns: DataType::Boolean,
        kind: FixedKind::True,
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(Fixed {
        name: "pg_get_indexdef",
        signature: Signature::variadic_any(Volatility::Stable),
        returns: DataType::Utf8,
        kind: FixedKind::Null,
    }));
}

/// `json_build_object(k1, v1, ...)` as JSON text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: Signature,
}

fn json_value(v: &datafusion::common::ScalarValue) -> String {
    use datafusion::common::ScalarValue as S;
    if v.is_null() {
        return "null".into();
    }
    match v {
        S::Boolean(Some(b)) => b.to_string(),
        S::Int8(_) | S::Int16(_) | S::Int32(_) | S::Int64(_) | S::UInt8(_) | S::UInt16(_) | S::UInt32(_)
        | S::UInt64(_) | S::Float32(_) | S::Float64(_) | S::Decimal128(..) => v.to_string(),
        other => {
            let text = other.to_string();
            serde_json::Value::String(text).to_string()
        }
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::common::ScalarValue;
        if !args.args.len().is_multiple_of(2) {
            return Err(DataFusionError::Plan("argument list must have even number of elements".into()));
        }
        let arrays = args.args.iter().map(|a| a.to_array(args.number_rows)).collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let mut parts = Vec::with_capacity(arrays.len() / 2);
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                if key.is_null() {
                    return Err(DataFusionError::Plan("null value not allowed for object key".into()));
                }
                let key = match &key {
                    ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => s.clone(),
                    other => other.to_string(),
                };
                let value = ScalarValue::try_from_array(&pair[1], row)?;
                parts.push(format!("{} : {}", serde_json::Value::String(key), json_value(&value)));
            }
            out.push(Some(format!("{{{}}}", parts.join(", "))));
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out)) as ArrayRef))
    }
}

pub fn register_json_build_object(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(JsonBuildObject { signature: Signature::variadic_any(Volatility::Stable) }));
}

/// `_huntlake_if(condition, value)`: `value` where `condition` is true, else
/// NULL. Catalog rewrites use it for `CASE WHEN c THEN (subquery) END`,
/// which DataFusion cannot plan (it does not decorrelate inside CASE).
#[derive(Debug, PartialEq, Eq, Hash)]
struct IfThen {
    signature: Signature,
}

impl ScalarUDFImpl for IfThen {
    fn name(&self) -> &str {
        "_huntlake_if"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[1].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use arrow::array::{Array, BooleanArray};
        let cond = args.args[0].to_array(args.number_rows)?;
        let cond = arrow::compute::cast(&cond, &DataType::Boolean)?;
        let cond = cond.as_any().downcast_ref::<BooleanArray>().expect("cast to boolean");
        // NULL conditions count as false.
        let keep = arrow::compute::kernels::boolean::is_not_null(cond)
            .and_then(|nn| arrow::compute::kernels::boolean::and(&nn, cond))?;
        let values = args.args[1].to_array(args.number_rows)?;
        let nulls = arrow::array::new_null_array(values.data_type(), values.len());
        Ok(ColumnarValue::Array(arrow::compute::kernels::zip::zip(&keep, &values, &nulls)?))
    }
}

pub fn register_if(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(IfThen { signature: Signature::any(2, Volatility::Immutable) }));
}

/// A `LIKE` pattern written with escape character `escape`, rewritten to
/// DataFusion's only escape, `\` (`'pg/_%'` with `/` -> `'pg\_%'`). `None`
/// for a pattern ending in the escape character, which PostgreSQL rejects.
pub fn backslash_like_pattern(pattern: &str, escape: char) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(n @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(n);
                }
                Some(n) => out.push(n),
                None => return None,
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `_huntlake_like_escape(pattern, escape)`: [`backslash_like_pattern`] at
/// run time, for `x LIKE $1 ESCAPE '/'` where the pattern is a bound
/// parameter (SQLAlchemy's `get_schema_names`), which the catalog rewrite
/// cannot convert as text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct LikeEscape {
    signature: Signature,
}

impl ScalarUDFImpl for LikeEscape {
    fn name(&self) -> &str {
        "_huntlake_like_escape"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let patterns = arrow::compute::cast(&args.args[0].to_array(args.number_rows)?, &DataType::Utf8)?;
        let escapes = arrow::compute::cast(&args.args[1].to_array(args.number_rows)?, &DataType::Utf8)?;
        let (patterns, escapes) = (as_string_array(&patterns)?, as_string_array(&escapes)?);
        let out = patterns
            .iter()
            .zip(escapes.iter())
            .map(|(p, e)| {
                let (Some(p), Some(e)) = (p, e) else { return Ok(None) };
                let mut chars = e.chars();
                match (chars.next(), chars.next()) {
                    (None, _) => Ok(Some(p.replace('\\', "\\\\"))),
                    (Some(e), None) => backslash_like_pattern(p, e).map(Some).ok_or_else(|| {
                        DataFusionError::Execution("LIKE pattern must not end with escape character".into())
                    }),
                    _ => Err(DataFusionError::Execution("invalid escape string: must be empty or one character".into())),
                }
            })
            .collect::<Result<StringArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

pub fn register_like_escape(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(LikeEscape { signature: Signature::any(2, Volatility::Immutable) }));
}

#[cfg(test)]
mod like_escape_tests {
    use super::*;

    #[test]
    fn patterns_are_rewritten_to_backslash() {
        assert_eq!(backslash_like_pattern("pg/_%", '/').as_deref(), Some(r"pg\_%"));
        assert_eq!(backslash_like_pattern("a!%b\\c", '!').as_deref(), Some(r"a\%b\\c"));
        assert_eq!(backslash_like_pattern("ab/", '/'), None);
    }

    #[tokio::test]
    async fn bound_pattern_with_escape() {
        let ctx = SessionContext::new();
        register_like_escape(&ctx);
        let sql = "SELECT count(*) AS n FROM (VALUES ('pg_catalog'), ('public'), ('pgx')) t(s) \
                   WHERE s NOT LIKE _huntlake_like_escape('pg/_' || '%', '/')";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        assert!(text.contains("| 2 "), "{text}");
    }
}

/// `_huntlake_null(...)`: NULL text, whatever the arguments. Catalog
/// rewrites replace a subquery known to return no row with it, passing the
/// subquery's `$n` parameters so a prepared statement keeps them.
#[derive(Debug, PartialEq, Eq, Hash)]
struct NullOf {
    signature: Signature,
}

impl ScalarUDFImpl for NullOf {
    fn name(&self) -> &str {
        "_huntlake_null"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::Utf8(None)))
    }
}

pub fn register_null(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(NullOf { signature: Signature::variadic_any(Volatility::Immutable) }));
}

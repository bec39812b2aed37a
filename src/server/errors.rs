//! Maps engine errors to PostgreSQL error responses with the SQLSTATE class
//! a client can act on (syntax 42601, unknown table 42P01, out of memory
//! 53200, ...), instead of one code for everything.

use datafusion::error::DataFusionError;
use pgwire::error::{ErrorInfo, PgWireError};

use crate::engine::settings::SettingError;

/// SQLSTATE codes used by huntlake.
pub mod sqlstate {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const DATA_EXCEPTION: &str = "22000";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";
    pub const CANT_CHANGE_RUNTIME_PARAM: &str = "55P02";
    pub const QUERY_CANCELED: &str = "57014";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    pub const INVALID_AUTHORIZATION: &str = "28000";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const IO_ERROR: &str = "58030";
    pub const INTERNAL_ERROR: &str = "XX000";
}

/// An `ERROR` with a code and message.
pub fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), code.into(), message.into())))
}

/// A `FATAL` error: the connection is closed after it is sent.
pub fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("FATAL".into(), code.into(), message.into())))
}

/// The refusal of a statement the user's role does not allow.
pub fn not_permitted(command: &str, role: &str) -> PgWireError {
    error_with_hint(
        sqlstate::INSUFFICIENT_PRIVILEGE,
        format!("permission denied for {command}: role {role} may only query"),
        "Views can be created by users with role = \"analyst\" ([[server.users]]).",
    )
}

/// An `ERROR` with a hint telling the user what to do.
pub fn error_with_hint(code: &str, message: impl Into<String>, hint: impl Into<String>) -> PgWireError {
    let mut info = ErrorInfo::new("ERROR".into(), code.into(), message.into());
    info.hint = Some(hint.into());
    PgWireError::UserError(Box::new(info))
}

/// The refusal of a statement that would modify lake data.
pub fn read_only(command: &str) -> PgWireError {
    error_with_hint(
        sqlstate::READ_ONLY_SQL_TRANSACTION,
        format!("cannot execute {command}: the lake is read-only over SQL"),
        "Land data with `huntlake ingest`; over SQL you may query and CREATE VIEW.",
    )
}

pub fn setting_error(e: &SettingError) -> PgWireError {
    match e {
        SettingError::Unknown(_) => error(sqlstate::UNDEFINED_OBJECT, e.to_string()),
        SettingError::ReadOnly(_) => error(sqlstate::CANT_CHANGE_RUNTIME_PARAM, e.to_string()),
    }
}

pub fn parse_error(e: impl std::fmt::Display) -> PgWireError {
    error(sqlstate::SYNTAX_ERROR, e.to_string())
}

/// Maps a DataFusion error to a PostgreSQL error by its class.
pub fn from_datafusion(e: DataFusionError) -> PgWireError {
    let code = classify(&e);
    // The innermost error is what the user needs; context wrappers add noise.
    let message = e.strip_backtrace().trim().to_string();
    let message = message
        .strip_prefix("Error during planning: ")
        .or_else(|| message.strip_prefix("Execution error: "))
        .unwrap_or(&message)
        .to_string();
    if code == sqlstate::OUT_OF_MEMORY {
        return error_with_hint(
            code,
            format!("out of memory: {message}"),
            "The query needs more memory than [engine] memory_limit allows (operators that can spill to disk already do); narrow it (time range, fewer groups, a smaller join side) or raise the limit.",
        );
    }
    error(code, message)
}

fn classify(e: &DataFusionError) -> &'static str {
    use sqlstate::*;
    match e {
        DataFusionError::Context(_, inner) => classify(inner),
        DataFusionError::Shared(inner) => classify(inner),
        DataFusionError::Diagnostic(_, inner) => classify(inner),
        DataFusionError::SQL(_, _) => SYNTAX_ERROR,
        DataFusionError::NotImplemented(_) => FEATURE_NOT_SUPPORTED,
        DataFusionError::ResourcesExhausted(_) => OUT_OF_MEMORY,
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) | DataFusionError::ParquetError(_) => IO_ERROR,
        DataFusionError::Internal(_) => INTERNAL_ERROR,
        DataFusionError::ArrowError(a, _) => match a.as_ref() {
            arrow::error::ArrowError::DivideByZero => DIVISION_BY_ZERO,
            arrow::error::ArrowError::CastError(_) | arrow::error::ArrowError::ParseError(_) => {
                INVALID_TEXT_REPRESENTATION
            }
            _ => DATA_EXCEPTION,
        },
        DataFusionError::SchemaError(s, _) => {
            let text = s.to_string();
            if text.contains("No field named") || text.contains("not found") {
                UNDEFINED_COLUMN
            } else if text.contains("Ambiguous") || text.contains("ambiguous") {
                AMBIGUOUS_COLUMN
            } else {
                UNDEFINED_OBJECT
            }
        }
        DataFusionError::Plan(msg) => classify_plan_message(msg),
        DataFusionError::Configuration(msg) => {
            if msg.contains("unrecognized configuration parameter") {
                UNDEFINED_OBJECT
            } else {
                INVALID_PARAMETER_VALUE
            }
        }
        DataFusionError::Execution(msg) => {
            if msg.contains("Divide by zero") || msg.contains("division by zero") {
                DIVISION_BY_ZERO
            } else if msg.contains("Cannot cast") || msg.contains("cast") {
                INVALID_TEXT_REPRESENTATION
            } else {
                DATA_EXCEPTION
            }
        }
        _ => INTERNAL_ERROR,
    }
}

fn classify_plan_message(msg: &str) -> &'static str {
    use sqlstate::*;
    let m = msg.to_ascii_lowercase();
    if m.contains("table") && (m.contains("not found") || m.contains("doesn't exist") || m.contains("does not exist")) {
        UNDEFINED_TABLE
    } else if m.contains("already exists") {
        DUPLICATE_TABLE
    } else if m.contains("invalid function") || m.contains("unknown function") || m.contains("no function matches") {
        UNDEFINED_FUNCTION
    } else if m.contains("unrecognized configuration parameter") {
        UNDEFINED_OBJECT
    } else if m.contains("no field named") || m.contains("column") && m.contains("not found") {
        UNDEFINED_COLUMN
    } else if m.contains("cannot be cast") || m.contains("coerc") || m.contains("type") {
        DATATYPE_MISMATCH
    } else {
        SYNTAX_ERROR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: DataFusionError) -> String {
        match from_datafusion(e) {
            PgWireError::UserError(info) => info.code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn classes_map_to_sqlstate() {
        assert_eq!(code(DataFusionError::Plan("table 'huntlake.public.nope' not found".into())), "42P01");
        assert_eq!(code(DataFusionError::NotImplemented("x".into())), "0A000");
        assert_eq!(code(DataFusionError::ResourcesExhausted("x".into())), "53200");
        assert_eq!(code(DataFusionError::Plan("Invalid function 'nope'".into())), "42883");
        assert_eq!(
            code(DataFusionError::Context("ctx".into(), Box::new(DataFusionError::ResourcesExhausted("x".into())))),
            "53200"
        );
    }
}

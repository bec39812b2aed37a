//! Small JSON documents under `<lake>/_state/`: connector checkpoints,
//! live detection and investigation state. A missing document reads as
//! `None`; a write is one PUT, atomic on every store (temporary file and
//! rename on local disks), so a crash leaves the old document or the new
//! one, never half of either.

use object_store::{ObjectStoreExt, PutPayload};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::LakeLocation;

/// A state document could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} {path} in the lake: {reason}")]
pub struct StateFileError {
    pub action: &'static str,
    pub path: String,
    pub reason: String,
}

/// Reads `<lake>/<relative>`; `None` when it does not exist.
pub async fn read_json<T: DeserializeOwned>(lake: &LakeLocation, relative: &str) -> Result<Option<T>, StateFileError> {
    let path = lake.child(relative);
    let err = |action, reason: String| StateFileError { action, path: path.to_string(), reason };
    let bytes = match lake.store.get(&path).await {
        Ok(r) => r.bytes().await.map_err(|e| err("read", e.to_string()))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(err("read", e.to_string())),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| err("parse", format!("{e}; move the file aside to start that part from scratch")))
}

/// Replaces `<lake>/<relative>` with `value` as pretty JSON.
pub async fn write_json<T: Serialize>(lake: &LakeLocation, relative: &str, value: &T) -> Result<(), StateFileError> {
    let path = lake.child(relative);
    let err = |action, reason: String| StateFileError { action, path: path.to_string(), reason };
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| err("encode", e.to_string()))?;
    lake.store.put(&path, PutPayload::from(bytes)).await.map_err(|e| err("write", e.to_string()))?;
    Ok(())
}

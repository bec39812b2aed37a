//! Where the lake lives: a local folder (the default) or any object-store URL.
//!
//! `s3://bucket/prefix` is configured from the standard AWS environment
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT`, ...), so the lake works with S3 and S3-compatible stores
//! without huntlake-specific settings.

use std::path::Path as FsPath;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use url::Url;

use super::LakeError;

/// A resolved lake: the store, the URL of its root and the path prefix of
/// the lake inside the store.
#[derive(Debug, Clone)]
pub struct LakeLocation {
    /// `file:///abs/path/`, `s3://bucket/prefix/`, `memory:///`: always ends in `/`.
    pub url: Url,
    /// The URL that identifies the store itself (scheme + authority).
    pub store_url: Url,
    /// Path of the lake root inside the store.
    pub prefix: Path,
    pub store: Arc<dyn ObjectStore>,
}

impl LakeLocation {
    /// Resolves a local path or URL. Local folders are created if missing so
    /// that a new lake can be landed into.
    pub fn parse(location: &str) -> Result<Self, LakeError> {
        let invalid = |reason: String| LakeError::InvalidLocation {
            location: location.to_string(),
            reason,
        };
        if location.trim().is_empty() {
            return Err(invalid("empty lake location; pass a folder or a URL such as s3://bucket/lake".into()));
        }
        let looks_like_url = location.contains("://");
        if !looks_like_url {
            return Self::local(FsPath::new(location)).map_err(invalid);
        }
        let mut url = Url::parse(location).map_err(|e| invalid(e.to_string()))?;
        if !url.path().ends_with('/') {
            let p = format!("{}/", url.path());
            url.set_path(&p);
        }
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|_| invalid("file URL without a local path".into()))?;
                Self::local(&path).map_err(invalid)
            }
            "s3" | "s3a" => {
                let bucket = url
                    .host_str()
                    .ok_or_else(|| invalid("s3 URL needs a bucket: s3://bucket/prefix".into()))?
                    .to_string();
                let store = AmazonS3Builder::from_env()
                    .with_bucket_name(&bucket)
                    .build()
                    .map_err(|e| invalid(format!("{e}; check the AWS_* environment variables")))?;
                let store_url = Url::parse(&format!("{}://{bucket}/", url.scheme()))
                    .map_err(|e| invalid(e.to_string()))?;
                let prefix = Path::from(url.path().trim_matches('/'));
                Ok(Self { url, store_url, prefix, store: Arc::new(store) })
            }
            "memory" => {
                let store_url = Url::parse("memory:///").expect("static URL");
                let prefix = Path::from(url.path().trim_matches('/'));
                Ok(Self { url, store_url, prefix, store: Arc::new(InMemory::new()) })
            }
            other => Err(invalid(format!(
                "unsupported scheme {other:?}; use a local folder, file://, s3:// or memory://"
            ))),
        }
    }

    fn local(path: &FsPath) -> Result<Self, String> {
        std::fs::create_dir_all(path)
            .map_err(|e| format!("cannot create lake folder {}: {e}", path.display()))?;
        let abs = std::fs::canonicalize(path)
            .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
        let url = Url::from_directory_path(&abs)
            .map_err(|_| format!("{} is not an absolute folder", abs.display()))?;
        let store_url = Url::parse("file:///").expect("static URL");
        let prefix = Path::from_filesystem_path(&abs).map_err(|e| e.to_string())?;
        Ok(Self { url, store_url, prefix, store: Arc::new(LocalFileSystem::new()) })
    }

    /// The URL of a table's folder (always ends in `/`).
    pub fn table_url(&self, table: &str) -> Url {
        self.url.join(&format!("{table}/")).expect("table names are URL-safe")
    }

    /// Object-store path of something below the lake root.
    pub fn child(&self, relative: &str) -> Path {
        relative
            .split('/')
            .filter(|s| !s.is_empty())
            .fold(self.prefix.clone(), |p, part| p.join(part))
    }

    /// True for a lake on the local file system.
    pub fn is_local(&self) -> bool {
        self.url.scheme() == "file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_folder_becomes_file_url() {
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeLocation::parse(dir.path().join("lake").to_str().unwrap()).unwrap();
        assert_eq!(lake.url.scheme(), "file");
        assert!(lake.url.path().ends_with("/lake/"));
        assert!(lake.table_url("edr_alerts").path().ends_with("/lake/edr_alerts/"));
        assert!(lake.is_local());
    }

    #[test]
    fn rejects_unknown_scheme_and_empty() {
        assert!(matches!(
            LakeLocation::parse("ftp://x/y"),
            Err(LakeError::InvalidLocation { .. })
        ));
        assert!(LakeLocation::parse("  ").is_err());
    }

    #[test]
    fn memory_url_keeps_prefix() {
        let lake = LakeLocation::parse("memory:///some/lake").unwrap();
        assert_eq!(lake.prefix.as_ref(), "some/lake");
        assert_eq!(lake.child("edr_alerts/date=2026-01-01").as_ref(), "some/lake/edr_alerts/date=2026-01-01");
    }
}

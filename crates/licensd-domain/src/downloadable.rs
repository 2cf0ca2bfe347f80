//! Downloadables: released versions of a product (installers, plugin zips) that licensees may
//! fetch while their license is valid and activated where they ask from.

use crate::clock::Millis;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Downloadable {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: crate::ProductId,
    /// Orderable form of the version (e.g. 102 for 1.0.2); unique per product.
    pub numeric_version: i64,
    pub version: String,
    pub update_summary: Option<String>,
    pub changelog: Option<String>,
    /// Unpublished versions are not offered to licensees.
    pub published: bool,
    pub release_date: Option<Millis>,
    pub download_counter: i64,
    /// Name the file is served under; `None` while no file is uploaded.
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
    pub created_at: Millis,
}

/// What an administrator sets on a downloadable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DownloadableSpec {
    pub numeric_version: i64,
    pub version: String,
    pub update_summary: Option<String>,
    pub changelog: Option<String>,
    #[serde(default)]
    pub published: bool,
    pub release_date: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DownloadableError {
    #[error("numeric_version must be positive")]
    NumericVersion,
    #[error("version must be 1 to 64 characters")]
    Version,
    #[error("update_summary and changelog must be at most 65535 characters")]
    Text,
}

impl DownloadableSpec {
    pub fn validate(&self) -> Result<(), DownloadableError> {
        if self.numeric_version < 1 {
            return Err(DownloadableError::NumericVersion);
        }
        if self.version.trim().is_empty() || self.version.len() > 64 {
            return Err(DownloadableError::Version);
        }
        let long = |t: &Option<String>| t.as_ref().is_some_and(|t| t.len() > 65_535);
        if long(&self.update_summary) || long(&self.changelog) {
            return Err(DownloadableError::Text);
        }
        Ok(())
    }
}

/// A file name safe to send in `Content-Disposition`: path parts, quotes and control characters go.
pub fn safe_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != ';')
        .collect();
    let cleaned = cleaned.trim().to_string();
    (!cleaned.is_empty() && cleaned != "." && cleaned != ".." && cleaned.len() <= 255).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_file_names_are_checked() {
        let spec = DownloadableSpec {
            numeric_version: 102,
            version: "1.0.2".into(),
            update_summary: None,
            changelog: None,
            published: true,
            release_date: None,
        };
        assert_eq!(spec.validate(), Ok(()));
        assert_eq!(
            DownloadableSpec {
                numeric_version: 0,
                ..spec.clone()
            }
            .validate(),
            Err(DownloadableError::NumericVersion)
        );
        assert_eq!(
            DownloadableSpec {
                version: "".into(),
                ..spec
            }
            .validate(),
            Err(DownloadableError::Version)
        );
        assert_eq!(safe_file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(safe_file_name("plugin \"x\".zip").as_deref(), Some("plugin x.zip"));
        assert_eq!(safe_file_name("a/"), None);
        assert_eq!(safe_file_name(".."), None);
    }
}

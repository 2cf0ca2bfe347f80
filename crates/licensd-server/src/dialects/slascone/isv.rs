//! The ISV id licensd answers to. licensd serves one vendor: requests under
//! `/api/v2/isv/{isv_id}` name it, and a well-formed GUID that is not it is another tenant's,
//! whose keys this server does not hold: 401, as SLASCONE answers a bad key (reference §1.2; the
//! seed has no conflict id for it). A malformed `isv_id` is no route of this server: 404. GUIDs
//! compare without regard to case.
//!
//! The id is `--slascone-isv-id` (`LICENSD_SLASCONE_ISV_ID`, `slascone_isv_id` in the config
//! file) when set. Unset, licensd generates one on its first start and keeps it in the database
//! (`IsvStore::isv_id`), so a fresh install works at once and the id stays the
//! same across restarts and across nodes on one PostgreSQL; `licensd serve` logs it at startup and
//! `licensd slascone isv-id` (`GET /v1/slascone/isv`) prints it.
//!
//! The check runs in `wire::IpGate`, the first extractor of every route of the dialect (the 404 and
//! 405 fallbacks included), right after the per-IP allowance: a request to another ISV is counted
//! by the rate limiter and refused before any key is looked at or any body read.

use super::wire::{SlError, SlResult, parse_guid, random_guid};
use axum::extract::OriginalUri;
use axum::http::request::Parts;

/// The canonical (lower-case 8-4-4-4-12) form of a GUID given in any case; `None` when `text` is
/// not a GUID.
pub fn canonical_guid(text: &str) -> Option<String> {
    let bytes = parse_guid(text)?;
    Some(uuid::Uuid::from_bytes(bytes).hyphenated().to_string())
}

/// A fresh random ISV id (a version-4 GUID), the candidate a first start records.
pub fn generate_isv_id() -> Option<String> {
    random_guid().ok()
}

/// The `isv_id` segment of a path under the mount, percent-decoded (`None` when not UTF-8).
fn isv_segment(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/api/v2/isv/")?;
    let raw = rest.split('/').next().unwrap_or_default();
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// Whether `isv_id` names this server's ISV (`served` is canonical).
pub fn check(served: &str, isv_id: &str) -> SlResult<()> {
    match canonical_guid(isv_id) {
        None => Err(SlError::NotFound("ISV")),
        Some(id) if id == served => Ok(()),
        Some(_) => Err(SlError::Unauthorized("unknown ISV id")),
    }
}

/// The check of a request under the mount (the path as the client sent it).
pub fn check_request(served: &str, parts: &Parts) -> SlResult<()> {
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path(), |OriginalUri(uri)| uri.path());
    match isv_segment(path) {
        Some(isv_id) => check(served, &isv_id),
        None => Err(SlError::NotFound("ISV")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVED: &str = "8a3b1c2d-0000-4000-8000-000000000001";

    #[test]
    fn the_served_id_in_any_case_passes_others_are_refused() {
        assert_eq!(
            canonical_guid("8A3B1C2D-0000-4000-8000-000000000001").as_deref(),
            Some(SERVED)
        );
        assert_eq!(check(SERVED, SERVED), Ok(()));
        assert_eq!(check(SERVED, &SERVED.to_uppercase()), Ok(()));
        assert_eq!(
            check(SERVED, "8a3b1c2d-0000-4000-8000-000000000002"),
            Err(SlError::Unauthorized("unknown ISV id"))
        );
        assert_eq!(check(SERVED, "not-a-guid"), Err(SlError::NotFound("ISV")));
        assert!(canonical_guid(&generate_isv_id().expect("random")).is_some());
    }

    #[test]
    fn the_segment_is_read_from_the_path_and_decoded() {
        assert_eq!(isv_segment("/api/v2/isv/abc/provisioning/x").as_deref(), Some("abc"));
        assert_eq!(isv_segment("/api/v2/isv/%38a3b").as_deref(), Some("8a3b"));
        assert_eq!(isv_segment("/api/v2/isv/").as_deref(), Some(""));
        assert_eq!(isv_segment("/api/v4/x"), None);
    }
}

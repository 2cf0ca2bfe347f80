//! Outbound webhook endpoints: which event-log types an endpoint may subscribe to and the checks
//! on what an administrator gives (`/v1/webhooks`, `licensd webhooks`).

/// The event log's types (`events.action`) an endpoint can subscribe to. `"*"` subscribes to
/// every type, present and future.
pub const EVENT_TYPES: &[&str] = &[
    "admin_token.created",
    "admin_token.revoked",
    "contract.created",
    "contract.deleted",
    "contract.updated",
    "credential.created",
    "credential.revoked",
    "customer.created",
    "customer.deleted",
    "customer.updated",
    "device.blocked",
    "device.deactivated",
    "device.unblocked",
    "dna.credits_consume",
    "dna.device_delete",
    "dna.info_tag_add",
    "dna.ip_lockout_cleared",
    "dna.ip_lockout_policy_set",
    "dna.license_update",
    "dna.password_recovery",
    "dna.reactivation_lockout_reset",
    "feature.created",
    "feature.deleted",
    "feature.updated",
    "keymanager.access_block.added",
    "keymanager.access_block.deleted",
    "keymanager.api_key.settings",
    "keymanager.contract.created",
    "keymanager.contract.deleted",
    "keymanager.downloadable.created",
    "keymanager.downloadable.deleted",
    "keymanager.downloadable.file",
    "keymanager.generator.created",
    "keymanager.generator.deleted",
    "keymanager.generator.updated",
    "keymanager.product_key.deleted",
    "keymanager.product_key.set",
    "license.activated",
    "license.assigned",
    "license.bulk_created",
    "license.bundle_member_linked",
    "license.bundle_member_unlinked",
    "license.consumed",
    "license.consumption_reset",
    "license.created",
    "license.deactivated",
    "license.deleted",
    "license.feature_consumed",
    "license.generated",
    "license.lease_checked_out",
    "license.lease_released",
    "license.meta.created",
    "license.meta.deleted",
    "license.meta.updated",
    "license.updated",
    "license.user_assigned",
    "license.user_unassigned",
    "license_user.created",
    "license_user.deleted",
    "license_user.password_set",
    "policy.created",
    "policy.deleted",
    "policy.updated",
    "product.bundle_member_added",
    "product.bundle_member_removed",
    "product.created",
    "product.deleted",
    "product.meta.created",
    "product.meta.deleted",
    "product.meta.updated",
    "product.updated",
    "product_version.created",
    "product_version.deleted",
    "signing_key.rotated",
    "slascone.activated",
    "slascone.activated_offline",
    "slascone.analytical_field_created",
    "slascone.consumption",
    "slascone.consumption_rollback",
    "slascone.customer_created",
    "slascone.heartbeat",
    "slascone.heartbeat_undone",
    "slascone.legacy_key_set",
    "slascone.license_removed",
    "slascone.license_state_toggled",
    "slascone.license_user_removed",
    "slascone.license_user_unassigned",
    "slascone.license_value_set",
    "slascone.moved_away",
    "slascone.session_closed",
    "slascone.session_opened",
    "slascone.tag_assigned",
    "slascone.template_created",
    "slascone.template_deleted",
    "slascone.template_updated",
    "slascone.token_reassigned",
    "slascone.unassigned",
    "slascone.usage_feature_created",
    "slascone.usage_module_created",
    "webhook_endpoint.created",
    "webhook_endpoint.deleted",
    "webhook_endpoint.updated",
];

/// Subscribes to every event type.
pub const ALL_EVENTS: &str = "*";
/// The most event types one endpoint lists.
pub const MAX_EVENT_TYPES: usize = 128;
/// The longest endpoint URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// The longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// The prefix of an endpoint's signing secret (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";

/// The outbox delivery kind of an event sent to an endpoint (written by the fan-out trigger on
/// `events`, migration 0611).
pub const DELIVERY_KIND: &str = "webhook";
/// Random bytes in a signing secret.
pub const SECRET_BYTES: usize = 32;

/// An endpoint as stored, without its secret (shown once, when it is created).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    /// Event-log types delivered to it; `"*"` is every type.
    pub event_types: Vec<String>,
    /// A disabled endpoint receives nothing.
    pub enabled: bool,
    pub created_at: crate::Millis,
    pub updated_at: crate::Millis,
}

/// Why an endpoint's settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("event_types must list at least one type")]
    NoEventTypes,
    #[error("event_types lists more than {MAX_EVENT_TYPES} types")]
    TooManyEventTypes,
    #[error("event_types: unknown event type {0:?}")]
    UnknownEventType(String),
    #[error("event_types: {0:?} is listed twice")]
    DuplicateEventType(String),
    #[error("url must be an absolute http or https URL of at most {MAX_URL_BYTES} bytes")]
    BadUrl,
}

/// Checks a subscription list: non-empty, bounded, known types (or `"*"`), no repeats.
pub fn check_event_types(types: &[String]) -> Result<(), WebhookError> {
    if types.is_empty() {
        return Err(WebhookError::NoEventTypes);
    }
    if types.len() > MAX_EVENT_TYPES {
        return Err(WebhookError::TooManyEventTypes);
    }
    for (i, t) in types.iter().enumerate() {
        if t != ALL_EVENTS && !EVENT_TYPES.contains(&t.as_str()) {
            return Err(WebhookError::UnknownEventType(t.chars().take(64).collect()));
        }
        if types[..i].contains(t) {
            return Err(WebhookError::DuplicateEventType(t.clone()));
        }
    }
    Ok(())
}

/// Checks an endpoint URL's form: absolute `http://` or `https://` with a host, bounded, no
/// whitespace or control characters. Where it resolves is checked by the delivery worker at
/// each attempt (private targets are refused unless allowed).
pub fn check_url(url: &str) -> Result<(), WebhookError> {
    if url.len() > MAX_URL_BYTES || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WebhookError::BadUrl);
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(WebhookError::BadUrl)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(WebhookError::BadUrl);
    }
    Ok(())
}

/// Whether an endpoint subscribed to `types` receives events of type `action`.
pub fn subscribes(types: &[String], action: &str) -> bool {
    types.iter().any(|t| t == ALL_EVENTS || t == action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_checked() {
        let ok = vec!["license.activated".to_string(), "*".to_string()];
        assert_eq!(check_event_types(&ok), Ok(()));
        assert_eq!(check_event_types(&[]), Err(WebhookError::NoEventTypes));
        assert!(matches!(
            check_event_types(&["license.nope".into()]),
            Err(WebhookError::UnknownEventType(_))
        ));
        assert!(matches!(
            check_event_types(&["license.created".into(), "license.created".into()]),
            Err(WebhookError::DuplicateEventType(_))
        ));
        assert!(subscribes(&ok, "license.activated"));
        assert!(subscribes(&["*".into()], "device.deactivated"));
        assert!(!subscribes(&["license.created".into()], "license.deleted"));
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(check_url("https://example.com/hook"), Ok(()));
        assert_eq!(check_url("http://127.0.0.1:8080/x?y=1"), Ok(()));
        for bad in [
            "ftp://example.com",
            "https://",
            "https:///x",
            "example.com",
            "https://a b",
            "http://:80/",
        ] {
            assert_eq!(check_url(bad), Err(WebhookError::BadUrl), "{bad}");
        }
    }
}

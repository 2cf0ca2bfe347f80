//! Repeated validations answered from the bytes already signed.
//!
//! Installed software re-checks the same license with the same request body again and again.
//! Where the store keeps an exact, commit-invalidated read cache (single-node SQLite,
//! `licensd_store::Maintenance::read_generation`), the answer to such a request is a function of
//! the request body, what the store reads (unchanged while the read generation is), the active
//! signing key and the clock. So a *valid* answer is kept with the generation, the second of its
//! `checked_at` and the key it was signed with, and served again only when all three still hold
//! **and** the domain's rules, run again on the kept inputs at the request's own clock, give the
//! same verdict and the same active features — the only parts of the answer that depend on the
//! millisecond. The bytes served are then exactly those a fresh computation would produce.
//!
//! What is kept: only `VALID` answers to requests without a `nonce` (a nonce makes every answer
//! unique; denials are rare and counted in metrics per request). A `VALID` outcome implies the
//! device is not blocked (`rules::validate` refuses a blocked fingerprint), so the rules are run
//! again with `blocked: false`, which is what the store read.
//!
//! Bounded: at most `capacity` entries; entries of an older generation or second are dead and are
//! dropped first when the map is full.

use super::client::SignedBody;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use licensd_domain::Millis;
use licensd_domain::rules::{self, DeviceState, Validity};
use licensd_store::ValidationReport;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The default bound: a few MB (a kept answer is about 3 KB with its inputs).
pub const DEFAULT_ENTRIES: usize = 4096;

pub struct ValidateAnswers {
    entries: Mutex<Entries>,
    capacity: usize,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Bytes, Arc<Kept>>,
    /// The (generation, second) of the last sweep of dead entries: a full map of live answers is
    /// swept once per second or commit, not on every answer that finds it full.
    swept: Option<(u64, Millis)>,
}

/// One signed answer and what it was computed from.
struct Kept {
    generation: u64,
    checked_at: Millis,
    key_id: String,
    fingerprint: Option<String>,
    report: ValidationReport,
    validity: Validity,
    /// `rules::feature_active` of each of `report.features`, in order, when it was computed.
    active_features: Vec<bool>,
    answer: SignedBody,
}

/// What the handler computed for a request it may keep (see [`ValidateAnswers::keep`]).
pub(crate) struct Computed {
    pub generation: u64,
    pub checked_at: Millis,
    pub fingerprint: Option<String>,
    pub report: ValidationReport,
    pub now: Millis,
}

impl ValidateAnswers {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            capacity,
        }
    }

    /// The kept answer to exactly `body`, if it is the answer a fresh computation would give:
    /// same store generation, same second, same signing key, and the rules agree at `now`.
    pub(crate) fn answer(
        &self,
        body: &[u8],
        generation: u64,
        checked_at: Millis,
        key_id: &str,
        now: Millis,
    ) -> Option<Response> {
        if self.capacity == 0 {
            return None;
        }
        let kept = self.lock().map.get(body).cloned()?;
        if kept.generation != generation || kept.checked_at != checked_at || kept.key_id != key_id {
            return None;
        }
        let report = &kept.report;
        let outcome = rules::validate(
            &report.product,
            &report.license,
            DeviceState {
                fingerprint: kept.fingerprint.as_deref(),
                device: report.device.as_ref(),
                blocked: false,
            },
            now,
        );
        if outcome.as_ref() != Ok(&kept.validity) {
            return None;
        }
        let features_agree = report
            .features
            .iter()
            .map(|feature| rules::feature_active(feature, now))
            .eq(kept.active_features.iter().copied());
        if !features_agree {
            return None;
        }
        Some(kept.answer.response(StatusCode::OK))
    }

    /// Keeps `answer`, the signed 200 answer to `body` computed as `computed` says, when it is a
    /// `VALID` answer that [`answer`](Self::answer) may serve again.
    pub(crate) fn keep(&self, body: Bytes, computed: Computed, answer: SignedBody) {
        if self.capacity == 0 {
            return;
        }
        let Ok(validity) = computed.report.outcome.clone() else {
            return;
        };
        let Some(key_id) = answer.key_id() else {
            return;
        };
        let active_features = computed
            .report
            .features
            .iter()
            .map(|feature| rules::feature_active(feature, computed.now))
            .collect();
        let kept = Arc::new(Kept {
            generation: computed.generation,
            checked_at: computed.checked_at,
            key_id,
            fingerprint: computed.fingerprint,
            report: computed.report,
            validity,
            active_features,
            answer,
        });
        // The request bytes may be a slice of the connection's whole read buffer: keeping that
        // slice would pin the buffer (and make hyper allocate a new one for every request), so
        // the key is a copy of just the body.
        let body = Bytes::copy_from_slice(&body);
        let mut entries = self.lock();
        if entries.map.len() >= self.capacity && !entries.map.contains_key(&body) {
            let now_key = (kept.generation, kept.checked_at);
            if entries.swept != Some(now_key) {
                entries.swept = Some(now_key);
                entries
                    .map
                    .retain(|_, old| old.generation == kept.generation && old.checked_at == kept.checked_at);
            }
            // Full of answers that are still live: keep those rather than churn the map (many
            // distinct requests per second are random checks, which a kept answer rarely serves).
            if entries.map.len() >= self.capacity {
                return;
            }
        }
        entries.map.insert(body, kept);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map holds no invariant a panicking holder could break.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licensd_domain::clock::DAY;
    use licensd_domain::{Device, License, LicenseFeature, Product};
    use serde_json::{Value, json};

    /// 2026-11-23T09:00:00.500Z: mid-second, so instants on either side share its second.
    const NOW: Millis = 1_795_424_400_500;
    const SECOND: Millis = NOW - 500;

    fn from<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).expect("fixture matches the domain model")
    }

    /// A valid report: the license expires at `expires_at` (no grace), one feature expiring at
    /// `feature_expires_at`.
    fn report(expires_at: Millis, feature_expires_at: Option<Millis>) -> ValidationReport {
        let product: Product = from(json!({
            "id": 1, "code": "cad", "name": "CAD", "auth_method": "key", "status": "active",
            "trial_allowed": false, "trial_days": 0, "metadata": {},
            "created_at": NOW - 400 * DAY, "updated_at": NOW - 30 * DAY
        }));
        let license: License = from(json!({
            "id": 7, "product_id": 1, "policy_id": null, "customer_id": null, "key": "K-1",
            "status": "active", "assignment": "assigned",
            "terms": {"license_type": "time_limited", "kind": "normal", "max_activations": 5,
                      "max_transfers": 0, "grace_period_hours": 0, "vm_allowed": true},
            "starts_at": NOW - 60 * DAY, "expires_at": expires_at, "maintenance_expires_at": null,
            "trial_days": null, "transfer_count": 0, "deactivation_count": 0, "consumption_used": 0,
            "consumption_period_start": NOW - 60 * DAY, "order_ref": null, "metadata": {},
            "created_at": NOW - 60 * DAY, "updated_at": NOW - 2 * DAY
        }));
        let feature: LicenseFeature = from(json!({
            "definition": {
                "id": 3, "product_id": 1, "code": "export", "name": "Export", "feature_type": "activation",
                "max_consumptions": null, "allow_overages": false, "max_overages": null,
                "allow_negative": false, "reset_period": "monthly", "floating_seats": null,
                "floating_lease_seconds": 1800, "metadata": {}, "created_at": NOW - 90 * DAY
            },
            "overrides": {"expires_at": feature_expires_at},
            "consumption_used": 0,
            "period_start": NOW - 22 * DAY
        }));
        let device: Device = from(json!({
            "id": 9, "license_id": 7, "fingerprint": "fp", "name": null, "hostname": null, "os": null,
            "app_version": null, "ip": null, "mac": null, "is_vm": false, "user_id": null,
            "variables": {}, "activated_at": NOW - DAY, "last_seen_at": NOW - DAY, "deactivated_at": null
        }));
        let outcome = rules::validate(
            &product,
            &license,
            DeviceState {
                fingerprint: Some("fp"),
                device: Some(&device),
                blocked: false,
            },
            NOW,
        );
        assert!(outcome.is_ok(), "the fixture is valid at NOW");
        ValidationReport {
            product,
            license,
            device: Some(device),
            features: vec![feature],
            active_devices: 1,
            outcome,
        }
    }

    fn signed() -> SignedBody {
        SignedBody::for_tests(b"{\"valid\":true}", "sig", "kid-1")
    }

    fn kept(report: ValidationReport) -> ValidateAnswers {
        let answers = ValidateAnswers::new(8);
        let computed = Computed {
            generation: 5,
            checked_at: SECOND,
            fingerprint: Some("fp".into()),
            report,
            now: NOW,
        };
        answers.keep(Bytes::from_static(b"{\"key\":\"K-1\"}"), computed, signed());
        answers
    }

    const BODY: &[u8] = b"{\"key\":\"K-1\"}";

    #[test]
    fn a_kept_answer_is_served_only_under_the_same_generation_second_and_key() {
        let answers = kept(report(NOW + 300 * DAY, None));
        assert!(answers.answer(BODY, 5, SECOND, "kid-1", NOW + 1).is_some());
        assert!(
            answers.answer(BODY, 6, SECOND, "kid-1", NOW + 1).is_none(),
            "a commit since"
        );
        assert!(
            answers.answer(BODY, 5, SECOND + 1000, "kid-1", NOW + 1000).is_none(),
            "another second"
        );
        assert!(
            answers.answer(BODY, 5, SECOND, "kid-2", NOW + 1).is_none(),
            "a rotated key"
        );
        assert!(
            answers
                .answer(b"{\"key\":\"K-2\"}", 5, SECOND, "kid-1", NOW + 1)
                .is_none()
        );
    }

    #[test]
    fn an_expiry_inside_the_second_is_answered_afresh() {
        // The license expires 200 ms after NOW, in the same second: before it the kept answer is
        // right, from it on the rules deny and the kept bytes must not be served.
        let answers = kept(report(NOW + 200, None));
        assert!(answers.answer(BODY, 5, SECOND, "kid-1", NOW + 199).is_some());
        assert!(answers.answer(BODY, 5, SECOND, "kid-1", NOW + 200).is_none());
        assert!(answers.answer(BODY, 5, SECOND, "kid-1", NOW + 499).is_none());
    }

    #[test]
    fn a_feature_ending_inside_the_second_is_answered_afresh() {
        let answers = kept(report(NOW + 300 * DAY, Some(NOW + 100)));
        assert!(answers.answer(BODY, 5, SECOND, "kid-1", NOW + 99).is_some());
        assert!(answers.answer(BODY, 5, SECOND, "kid-1", NOW + 100).is_none());
    }

    #[test]
    fn denials_are_not_kept_and_the_map_is_bounded() {
        let mut denied = report(NOW + 300 * DAY, None);
        denied.outcome = Err(licensd_domain::Denial::LicenseExpired);
        let answers = kept(denied);
        assert!(answers.answer(BODY, 5, SECOND, "kid-1", NOW).is_none());

        let answers = ValidateAnswers::new(2);
        for i in 0..5 {
            let computed = Computed {
                generation: 5,
                checked_at: SECOND,
                fingerprint: Some("fp".into()),
                report: report(NOW + 300 * DAY, None),
                now: NOW,
            };
            answers.keep(Bytes::from(format!("{{\"key\":\"K-{i}\"}}")), computed, signed());
            assert!(answers.lock().map.len() <= 2);
        }
        // Full of live answers: the first two stay, the later ones were not kept.
        assert!(answers.answer(b"{\"key\":\"K-0\"}", 5, SECOND, "kid-1", NOW).is_some());
        assert!(answers.answer(b"{\"key\":\"K-4\"}", 5, SECOND, "kid-1", NOW).is_none());
        // A new second makes them dead: the next answer sweeps them and is kept.
        let computed = Computed {
            generation: 5,
            checked_at: SECOND + 1000,
            fingerprint: Some("fp".into()),
            report: report(NOW + 300 * DAY, None),
            now: NOW + 1000,
        };
        answers.keep(Bytes::from_static(b"{\"key\":\"K-9\"}"), computed, signed());
        assert_eq!(answers.lock().map.len(), 1);
        assert!(
            answers
                .answer(b"{\"key\":\"K-9\"}", 5, SECOND + 1000, "kid-1", NOW + 1000)
                .is_some()
        );
    }

    #[test]
    fn a_blocked_fingerprint_is_never_valid() {
        // `answer` re-runs the rules with `blocked: false`, which is sound only because a VALID
        // outcome (the only one kept) cannot come from a blocked fingerprint.
        let report = report(NOW + 300 * DAY, None);
        let outcome = rules::validate(
            &report.product,
            &report.license,
            DeviceState {
                fingerprint: Some("fp"),
                device: report.device.as_ref(),
                blocked: true,
            },
            NOW,
        );
        assert_eq!(outcome, Err(licensd_domain::Denial::DeviceBlocked));
    }
}

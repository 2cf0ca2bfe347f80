//! The DNA status KeyWords of a license: `Exists Type Status [VALID]`, e.g.
//! `EXISTS ACTIVATION ACTIVATED VALID`. One pure function decides them from the license, its
//! product, its devices and its lockout state, so the wire answer can never disagree with what
//! activation would do.
//!
//! Mapping of licensd's model (documented in the DNA reference, section 1.2):
//! - Type: kind `normal` → ACTIVATION; `trial` and `evaluation` → EVALUATION; `test` → TEST.
//! - Status, first match wins (BANNED > EXPIRED > REACTLOCKOUT > IPLOCKOUT > ACTIVATED > RESERVED >
//!   AVAILABLE): BANNED when the license is blocked, disabled or suspended or its product is
//!   disabled or archived (DNA bans a code or a whole product; every use is refused); EXPIRED past
//!   expiry plus grace; REACTLOCKOUT when the reactivation lockout refuses a new activation;
//!   IPLOCKOUT while any end-user IP is locked out of the license; ACTIVATED with at least one
//!   active device; AVAILABLE while in stock; RESERVED otherwise (reserved or assigned to a
//!   customer, not activated).
//! - VALID exactly when EXISTS, ACTIVATION and one of AVAILABLE, RESERVED, ACTIVATED hold.

use crate::clock::Millis;
use crate::lockout::reactivation_locked;
use crate::model::*;
use crate::rules;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeType {
    Activation,
    Evaluation,
    Test,
}

impl CodeType {
    pub const ALL: [CodeType; 3] = [CodeType::Activation, CodeType::Evaluation, CodeType::Test];

    pub fn of(kind: LicenseKind) -> Self {
        match kind {
            LicenseKind::Normal => CodeType::Activation,
            LicenseKind::Trial | LicenseKind::Evaluation => CodeType::Evaluation,
            LicenseKind::Test => CodeType::Test,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CodeType::Activation => "ACTIVATION",
            CodeType::Evaluation => "EVALUATION",
            CodeType::Test => "TEST",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeStatus {
    Available,
    Reserved,
    Activated,
    Expired,
    Banned,
    ReactLockout,
    IpLockout,
}

impl CodeStatus {
    pub const ALL: [CodeStatus; 7] = [
        CodeStatus::Available,
        CodeStatus::Reserved,
        CodeStatus::Activated,
        CodeStatus::Expired,
        CodeStatus::Banned,
        CodeStatus::ReactLockout,
        CodeStatus::IpLockout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Available => "AVAILABLE",
            CodeStatus::Reserved => "RESERVED",
            CodeStatus::Activated => "ACTIVATED",
            CodeStatus::Expired => "EXPIRED",
            CodeStatus::Banned => "BANNED",
            CodeStatus::ReactLockout => "REACTLOCKOUT",
            CodeStatus::IpLockout => "IPLOCKOUT",
        }
    }
}

/// The KeyWords of a code. `known == None` is an unknown code, rendered `UNKNOWN` alone (the
/// other slots are not defined for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusKeywords {
    pub known: Option<(CodeType, CodeStatus)>,
}

impl StatusKeywords {
    pub const UNKNOWN: StatusKeywords = StatusKeywords { known: None };

    /// The seed's rule: EXISTS, ACTIVATION and one of AVAILABLE, RESERVED, ACTIVATED.
    pub fn valid(&self) -> bool {
        matches!(
            self.known,
            Some((
                CodeType::Activation,
                CodeStatus::Available | CodeStatus::Reserved | CodeStatus::Activated
            ))
        )
    }

    pub fn render(&self) -> String {
        match self.known {
            None => "UNKNOWN".to_string(),
            Some((code_type, status)) => {
                let mut text = format!("EXISTS {} {}", code_type.as_str(), status.as_str());
                if self.valid() {
                    text.push_str(" VALID");
                }
                text
            }
        }
    }
}

impl std::fmt::Display for StatusKeywords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// What the keywords are computed from, as the store loaded it.
#[derive(Debug, Clone, Copy)]
pub struct KeywordFacts<'a> {
    pub product: &'a Product,
    pub license: &'a License,
    /// Devices currently active on the license.
    pub active_devices: i64,
    /// New activations inside the license's reactivation lockout window ending now.
    pub recent_activations: i64,
    /// Whether some end-user IP is locked out of this license now.
    pub ip_locked: bool,
}

pub fn status_keywords(facts: Option<KeywordFacts<'_>>, now: Millis) -> StatusKeywords {
    let Some(facts) = facts else {
        return StatusKeywords::UNKNOWN;
    };
    let license = facts.license;
    let banned = !matches!(facts.product.status, ProductStatus::Active) || license.status != LicenseStatus::Active;
    let status = if banned {
        CodeStatus::Banned
    } else if rules::is_expired(license, now) {
        CodeStatus::Expired
    } else if reactivation_locked(license, facts.recent_activations) {
        CodeStatus::ReactLockout
    } else if facts.ip_locked {
        CodeStatus::IpLockout
    } else if facts.active_devices > 0 {
        CodeStatus::Activated
    } else if license.assignment == Assignment::InStock {
        CodeStatus::Available
    } else {
        CodeStatus::Reserved
    };
    StatusKeywords {
        known: Some((CodeType::of(license.terms.kind), status)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::clock::HOUR;

    const NOW: Millis = 1_767_225_600_000;

    pub(crate) fn product() -> Product {
        crate::test_fixtures::product()
    }

    pub(crate) fn license() -> License {
        License {
            key: Some("DNA-1".into()),
            assignment: Assignment::InStock,
            ..crate::test_fixtures::license()
        }
    }

    /// A license and facts that produce `status` through the route the domain actually takes.
    fn facts_for(kind: LicenseKind, status: CodeStatus) -> (Product, License, i64, i64, bool) {
        let product = product();
        let mut license = license();
        license.terms.kind = kind;
        let (mut active, mut recent, mut ip) = (0, 0, false);
        match status {
            CodeStatus::Available => {}
            CodeStatus::Reserved => license.assignment = Assignment::Reserved,
            CodeStatus::Activated => {
                license.assignment = Assignment::Assigned;
                active = 1;
            }
            CodeStatus::Expired => {
                license.assignment = Assignment::Assigned;
                license.expires_at = Some(NOW - HOUR);
                active = 1;
            }
            CodeStatus::Banned => {
                license.status = LicenseStatus::Blocked;
                active = 1;
            }
            CodeStatus::ReactLockout => {
                license.assignment = Assignment::Assigned;
                license.terms.reactivation_lockout = Some(ReactivationLockout {
                    limit: 1,
                    window_hours: 24,
                });
                recent = 1;
                active = 1;
            }
            CodeStatus::IpLockout => {
                license.assignment = Assignment::Assigned;
                ip = true;
                active = 1;
            }
        }
        (product, license, active, recent, ip)
    }

    fn keywords(product: &Product, license: &License, active: i64, recent: i64, ip: bool) -> String {
        status_keywords(
            Some(KeywordFacts {
                product,
                license,
                active_devices: active,
                recent_activations: recent,
                ip_locked: ip,
            }),
            NOW,
        )
        .render()
    }

    #[test]
    fn every_type_and_status_combination() {
        for kind in LicenseKind::ALL {
            for status in CodeStatus::ALL {
                let (product, license, active, recent, ip) = facts_for(*kind, status);
                let code_type = CodeType::of(*kind);
                let valid = code_type == CodeType::Activation
                    && matches!(
                        status,
                        CodeStatus::Available | CodeStatus::Reserved | CodeStatus::Activated
                    );
                let expected = format!(
                    "EXISTS {} {}{}",
                    code_type.as_str(),
                    status.as_str(),
                    if valid { " VALID" } else { "" }
                );
                assert_eq!(
                    keywords(&product, &license, active, recent, ip),
                    expected,
                    "{kind:?} {status:?}"
                );
            }
        }
    }

    #[test]
    fn the_matrix_spelled_out_for_activation_codes() {
        let cases = [
            (CodeStatus::Available, "EXISTS ACTIVATION AVAILABLE VALID"),
            (CodeStatus::Reserved, "EXISTS ACTIVATION RESERVED VALID"),
            (CodeStatus::Activated, "EXISTS ACTIVATION ACTIVATED VALID"),
            (CodeStatus::Expired, "EXISTS ACTIVATION EXPIRED"),
            (CodeStatus::Banned, "EXISTS ACTIVATION BANNED"),
            (CodeStatus::ReactLockout, "EXISTS ACTIVATION REACTLOCKOUT"),
            (CodeStatus::IpLockout, "EXISTS ACTIVATION IPLOCKOUT"),
        ];
        for (status, expected) in cases {
            let (product, license, active, recent, ip) = facts_for(LicenseKind::Normal, status);
            assert_eq!(keywords(&product, &license, active, recent, ip), expected);
        }
        let (product, license, active, recent, ip) = facts_for(LicenseKind::Trial, CodeStatus::Activated);
        assert_eq!(
            keywords(&product, &license, active, recent, ip),
            "EXISTS EVALUATION ACTIVATED"
        );
        let (product, license, active, recent, ip) = facts_for(LicenseKind::Test, CodeStatus::Available);
        assert_eq!(
            keywords(&product, &license, active, recent, ip),
            "EXISTS TEST AVAILABLE"
        );
    }

    #[test]
    fn unknown_codes() {
        assert_eq!(status_keywords(None, NOW).render(), "UNKNOWN");
        assert!(!StatusKeywords::UNKNOWN.valid());
    }

    #[test]
    fn precedence_when_several_conditions_hold() {
        let product = product();
        let mut license = license();
        license.assignment = Assignment::Assigned;
        license.expires_at = Some(NOW - HOUR);
        license.terms.reactivation_lockout = Some(ReactivationLockout {
            limit: 1,
            window_hours: 1,
        });
        assert_eq!(keywords(&product, &license, 1, 5, true), "EXISTS ACTIVATION EXPIRED");
        license.status = LicenseStatus::Blocked;
        assert_eq!(keywords(&product, &license, 1, 5, true), "EXISTS ACTIVATION BANNED");
        license.status = LicenseStatus::Active;
        license.expires_at = None;
        assert_eq!(
            keywords(&product, &license, 1, 5, true),
            "EXISTS ACTIVATION REACTLOCKOUT"
        );
        assert_eq!(keywords(&product, &license, 1, 0, true), "EXISTS ACTIVATION IPLOCKOUT");
        assert_eq!(
            keywords(&product, &license, 1, 0, false),
            "EXISTS ACTIVATION ACTIVATED VALID"
        );
        assert_eq!(
            keywords(&product, &license, 0, 0, false),
            "EXISTS ACTIVATION RESERVED VALID"
        );
    }

    #[test]
    fn every_ban_source_is_banned() {
        for status in [
            LicenseStatus::Blocked,
            LicenseStatus::Disabled,
            LicenseStatus::Suspended,
        ] {
            let mut license = license();
            license.status = status;
            assert_eq!(keywords(&product(), &license, 0, 0, false), "EXISTS ACTIVATION BANNED");
        }
        for status in [ProductStatus::Disabled, ProductStatus::Archived] {
            let mut product = product();
            product.status = status;
            assert_eq!(keywords(&product, &license(), 0, 0, false), "EXISTS ACTIVATION BANNED");
        }
    }

    #[test]
    fn grace_period_keeps_a_code_unexpired_and_expiry_is_exclusive() {
        let mut license = license();
        license.expires_at = Some(NOW - HOUR);
        license.terms.grace_period_hours = 2;
        assert_eq!(
            keywords(&product(), &license, 0, 0, false),
            "EXISTS ACTIVATION AVAILABLE VALID"
        );
        license.expires_at = Some(NOW);
        license.terms.grace_period_hours = 0;
        assert_eq!(keywords(&product(), &license, 0, 0, false), "EXISTS ACTIVATION EXPIRED");
        license.expires_at = Some(NOW + 1);
        assert_eq!(
            keywords(&product(), &license, 0, 0, false),
            "EXISTS ACTIVATION AVAILABLE VALID"
        );
    }

    #[test]
    fn an_active_device_wins_over_stock_state() {
        let mut license = license();
        license.assignment = Assignment::InStock;
        assert_eq!(
            keywords(&product(), &license, 1, 0, false),
            "EXISTS ACTIVATION ACTIVATED VALID"
        );
        license.assignment = Assignment::Assigned;
        assert_eq!(
            keywords(&product(), &license, 0, 0, false),
            "EXISTS ACTIVATION RESERVED VALID"
        );
    }
}

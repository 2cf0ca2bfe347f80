//! Borrowing a floating feature seat: the feature seat rule (`rules::plan_feature_lease`) plus the
//! license's borrow policy (LicenseSpring lets a device keep a floating feature offline until a
//! chosen instant, within the license's `max_borrow_time`).

use crate::clock::{HOUR, Millis};
use crate::denial::Denial;
use crate::model::{FloatingLease, License, LicenseFeature, Product};
use crate::rules::{LeasePlan, plan_feature_lease};

/// Checks out (or renews) a feature seat and, when `borrow_until` is given, borrows it until then.
/// Order: usable license → feature not expired → feature floating → seats → borrow allowed →
/// borrow period.
pub fn plan_feature_borrow(
    product: &Product,
    license: &License,
    feature: &LicenseFeature,
    other_live_leases: i64,
    own_lease: Option<&FloatingLease>,
    borrow_until: Option<Millis>,
    now: Millis,
) -> Result<LeasePlan, Denial> {
    let mut plan = plan_feature_lease(product, license, feature, other_live_leases, own_lease, now)?;
    if let Some(until) = borrow_until {
        let Some(floating) = license
            .terms
            .floating
            .as_ref()
            .filter(|floating| floating.borrow_allowed)
        else {
            return Err(Denial::BorrowNotAllowed);
        };
        let longest = now.saturating_add(floating.max_borrow_hours.max(0).saturating_mul(HOUR));
        if until <= now || until > longest {
            return Err(Denial::BorrowPeriodInvalid);
        }
        plan.borrowed_until = Some(until);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{LicenseId, ProductId};
    use crate::model::*;

    fn product() -> Product {
        Product {
            code: "p".into(),
            name: "p".into(),
            ..crate::test_fixtures::product()
        }
    }

    fn license(floating: Option<FloatingTerms>) -> License {
        License {
            id: LicenseId::new(1),
            key: Some("K".into()),
            terms: LicenseTerms {
                floating,
                ..LicenseTerms::default()
            },
            ..crate::test_fixtures::license()
        }
    }

    fn feature(seats: Option<i64>) -> LicenseFeature {
        LicenseFeature {
            definition: FeatureDefinition {
                id: 7,
                spec: FeatureSpec {
                    product_id: ProductId::new(1),
                    code: "f".into(),
                    name: "f".into(),
                    feature_type: FeatureType::Activation,
                    max_consumptions: None,
                    allow_overages: false,
                    max_overages: None,
                    allow_negative: false,
                    reset_period: ResetPeriod::Never,
                    floating_seats: seats,
                    floating_lease_seconds: 600,
                    metadata: serde_json::Value::Null,
                },
                created_at: 0,
            },
            overrides: FeatureOverrides::default(),
            consumption_used: 0,
            period_start: 0,
        }
    }

    const NOW: Millis = 1_000_000_000;

    fn borrowable() -> Option<FloatingTerms> {
        Some(FloatingTerms {
            seats: 1,
            lease_seconds: 600,
            borrow_allowed: true,
            max_borrow_hours: 24,
            sessions_per_client: None,
        })
    }

    #[test]
    fn plain_checkout_needs_no_borrow_policy() {
        let plan = plan_feature_borrow(&product(), &license(None), &feature(Some(1)), 0, None, None, NOW).unwrap();
        assert_eq!(plan.borrowed_until, None);
        assert_eq!(plan.expires_at, NOW + 600_000);
    }

    #[test]
    fn borrow_within_the_window_is_kept() {
        let until = NOW + 2 * HOUR;
        let plan = plan_feature_borrow(
            &product(),
            &license(borrowable()),
            &feature(Some(1)),
            0,
            None,
            Some(until),
            NOW,
        )
        .unwrap();
        assert_eq!(plan.borrowed_until, Some(until));
    }

    #[test]
    fn refusals_in_order() {
        let p = product();
        assert_eq!(
            plan_feature_borrow(
                &p,
                &license(borrowable()),
                &feature(None),
                0,
                None,
                Some(NOW + HOUR),
                NOW
            ),
            Err(Denial::FeatureNotFloating)
        );
        assert_eq!(
            plan_feature_borrow(
                &p,
                &license(borrowable()),
                &feature(Some(1)),
                1,
                None,
                Some(NOW + HOUR),
                NOW
            ),
            Err(Denial::FeatureSeatsExhausted)
        );
        assert_eq!(
            plan_feature_borrow(&p, &license(None), &feature(Some(1)), 0, None, Some(NOW + HOUR), NOW),
            Err(Denial::BorrowNotAllowed)
        );
        assert_eq!(
            plan_feature_borrow(
                &p,
                &license(borrowable()),
                &feature(Some(1)),
                0,
                None,
                Some(NOW + 25 * HOUR),
                NOW
            ),
            Err(Denial::BorrowPeriodInvalid)
        );
        assert_eq!(
            plan_feature_borrow(&p, &license(borrowable()), &feature(Some(1)), 0, None, Some(NOW), NOW),
            Err(Denial::BorrowPeriodInvalid)
        );
    }
}

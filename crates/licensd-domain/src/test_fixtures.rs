//! Test-only fixtures: the product and the licence every domain test starts from, so that a test
//! spells out only the fields it is about (`License { status: …, ..license() }`).

use crate::ids::{LicenseId, ProductId};
use crate::model::*;

/// An active product that licences by key, without trials.
pub(crate) fn product() -> Product {
    Product {
        id: ProductId::new(1),
        code: "app".into(),
        name: "App".into(),
        auth_method: AuthMethod::Key,
        status: ProductStatus::Active,
        trial_allowed: false,
        trial_days: 0,
        metadata: serde_json::Value::Null,
        created_at: 0,
        updated_at: 0,
    }
}

/// An active, assigned licence of `product()` with the default terms and nothing used.
pub(crate) fn license() -> License {
    License {
        id: LicenseId::new(7),
        product_id: ProductId::new(1),
        policy_id: None,
        customer_id: None,
        key: Some("KEY".into()),
        status: LicenseStatus::Active,
        assignment: Assignment::Assigned,
        terms: LicenseTerms::default(),
        starts_at: None,
        expires_at: None,
        maintenance_expires_at: None,
        trial_days: None,
        transfer_count: 0,
        deactivation_count: 0,
        consumption_used: 0,
        consumption_period_start: 0,
        order_ref: None,
        metadata: serde_json::Value::Null,
        created_at: 0,
        updated_at: 0,
    }
}

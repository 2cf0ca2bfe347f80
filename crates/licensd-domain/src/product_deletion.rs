//! Deleting a product: one policy for every API.
//!
//! A product that still has licences is not deleted unless the caller asks for a cascade. The
//! native API refuses by default and cascades on `?cascade=true`; Key Manager's delete-product
//! cascades, because its contract knows only "deleted" (550) and "not found" (551).
//!
//! A cascade removes, in the one transaction of the delete: every licence of the product (and
//! with each licence what hangs off it: devices, leases, feature grants, consumption records,
//! vendor metadata), then the product's policies and feature definitions, then the product. Each
//! removed licence is logged as its own `license.deleted` event (same actor and address as the
//! product's event, `data.cascade_from_product` naming the product), before the product's event,
//! so the audit log and webhooks see every licence that went. A refusal changes nothing and logs
//! nothing.

use serde::{Deserialize, Serialize};

/// What the caller asks for when a product still has licences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ProductDeletion {
    /// Refuse while the product has licences (native's default).
    #[default]
    RefuseWhileLicensed,
    /// Delete the product together with its licences.
    Cascade,
}

/// Why a product deletion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductDeletionRefusal {
    /// The product still has this many licences and no cascade was asked for.
    HasLicenses(i64),
}

impl ProductDeletionRefusal {
    /// The message every API reports (native: the 409 body).
    pub fn message(self) -> &'static str {
        match self {
            ProductDeletionRefusal::HasLicenses(_) => "product has licenses",
        }
    }
}

/// The action logged for each licence a cascade removes.
pub const CASCADED_LICENSE_ACTION: &str = "license.deleted";

impl ProductDeletion {
    /// Whether the delete may go ahead for a product with `licenses` licences; `Ok(true)` when it
    /// removes them too (a cascade over a product that has some).
    pub fn plan(self, licenses: i64) -> Result<bool, ProductDeletionRefusal> {
        match (self, licenses) {
            (_, 0) => Ok(false),
            (ProductDeletion::Cascade, _) => Ok(true),
            (ProductDeletion::RefuseWhileLicensed, n) => Err(ProductDeletionRefusal::HasLicenses(n)),
        }
    }

    /// The event logged for one licence removed by a cascade: the product event's actor and
    /// address, about the licence, naming the product.
    pub fn cascaded_license_event(
        product_event: &crate::EventDraft,
        product_id: crate::ProductId,
        license_id: crate::LicenseId,
    ) -> crate::EventDraft {
        crate::EventDraft::new(product_event.actor.clone(), CASCADED_LICENSE_ACTION, "license")
            .subject(license_id)
            .from_ip(product_event.source_ip.clone())
            .data(serde_json::json!({ "cascade_from_product": product_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_without_licences_is_deleted_either_way() {
        assert_eq!(ProductDeletion::RefuseWhileLicensed.plan(0), Ok(false));
        assert_eq!(ProductDeletion::Cascade.plan(0), Ok(false));
    }

    #[test]
    fn licences_refuse_unless_cascading() {
        assert_eq!(
            ProductDeletion::RefuseWhileLicensed.plan(3),
            Err(ProductDeletionRefusal::HasLicenses(3))
        );
        assert_eq!(ProductDeletion::Cascade.plan(3), Ok(true));
        assert_eq!(ProductDeletionRefusal::HasLicenses(1).message(), "product has licenses");
    }

    #[test]
    fn a_cascaded_licence_is_logged_by_the_products_actor() {
        let product_event = crate::EventDraft::new("admin:1", "product.deleted", "product")
            .subject(7)
            .from_ip(Some("10.0.0.1".into()));
        let event = ProductDeletion::cascaded_license_event(
            &product_event,
            crate::ProductId::new(7),
            crate::LicenseId::new(42),
        );
        assert_eq!(
            (event.actor.as_str(), event.action.as_str(), event.subject_type.as_str()),
            ("admin:1", "license.deleted", "license")
        );
        assert_eq!(event.subject_id, Some(42));
        assert_eq!(event.source_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(event.data, serde_json::json!({ "cascade_from_product": 7 }));
    }
}

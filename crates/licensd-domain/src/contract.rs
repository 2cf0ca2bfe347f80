//! Contracts: a quota of license keys of one product handed to a third party (reseller, agency,
//! enterprise), who mints, inspects and deletes keys within it. Each operation has its own
//! permission flag; the quota counts the contract's keys that exist.

use crate::clock::Millis;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contract {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: crate::ProductId,
    pub name: String,
    pub information: Option<String>,
    /// Keys the contract may hold at once.
    pub license_keys_quantity: i64,
    pub active: bool,
    pub can_get_info: bool,
    pub can_generate: bool,
    pub can_destroy: bool,
    pub can_destroy_all: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The operations a contract holder may be permitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractOperation {
    GetInfo,
    Generate,
    Destroy,
    DestroyAll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContractRefusal {
    #[error("contract is inactive")]
    Inactive,
    #[error("contract does not permit this operation")]
    NotPermitted,
    #[error("the contract's license key quota is used up")]
    LimitReached,
    #[error("the quantity is not positive or exceeds what is left of the quota")]
    QuantityNotAllowed,
}

impl Contract {
    /// Whether the holder may perform `operation` at all.
    pub fn check(&self, operation: ContractOperation) -> Result<(), ContractRefusal> {
        if !self.active {
            return Err(ContractRefusal::Inactive);
        }
        let permitted = match operation {
            ContractOperation::GetInfo => self.can_get_info,
            ContractOperation::Generate => self.can_generate,
            ContractOperation::Destroy => self.can_destroy,
            ContractOperation::DestroyAll => self.can_destroy_all,
        };
        if permitted {
            Ok(())
        } else {
            Err(ContractRefusal::NotPermitted)
        }
    }

    /// Whether `requested` more keys fit the quota when `used` exist; decided under the
    /// contract's row lock.
    pub fn plan_generate(&self, used: i64, requested: i64) -> Result<(), ContractRefusal> {
        self.check(ContractOperation::Generate)?;
        if used >= self.license_keys_quantity {
            return Err(ContractRefusal::LimitReached);
        }
        if !(1..=crate::generator::MAX_BATCH).contains(&requested) || used + requested > self.license_keys_quantity {
            return Err(ContractRefusal::QuantityNotAllowed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract {
        Contract {
            id: 1,
            product_id: crate::ProductId::new(1),
            name: "reseller".into(),
            information: None,
            license_keys_quantity: 10,
            active: true,
            can_get_info: true,
            can_generate: true,
            can_destroy: false,
            can_destroy_all: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn permissions_and_activity_gate_operations() {
        let c = contract();
        assert_eq!(c.check(ContractOperation::GetInfo), Ok(()));
        assert_eq!(c.check(ContractOperation::Destroy), Err(ContractRefusal::NotPermitted));
        let inactive = Contract { active: false, ..c };
        assert_eq!(
            inactive.check(ContractOperation::GetInfo),
            Err(ContractRefusal::Inactive)
        );
    }

    #[test]
    fn the_quota_holds_exactly() {
        let c = contract();
        assert_eq!(c.plan_generate(0, 10), Ok(()));
        assert_eq!(c.plan_generate(4, 6), Ok(()));
        assert_eq!(c.plan_generate(4, 7), Err(ContractRefusal::QuantityNotAllowed));
        assert_eq!(c.plan_generate(0, 0), Err(ContractRefusal::QuantityNotAllowed));
        assert_eq!(c.plan_generate(0, -3), Err(ContractRefusal::QuantityNotAllowed));
        assert_eq!(c.plan_generate(10, 1), Err(ContractRefusal::LimitReached));
        assert_eq!(c.plan_generate(12, 1), Err(ContractRefusal::LimitReached));
        let no_generate = Contract {
            can_generate: false,
            ..contract()
        };
        assert_eq!(no_generate.plan_generate(0, 1), Err(ContractRefusal::NotPermitted));
    }
}

//! Softworkz DNA "Dynamic Credits" (reference/dna-api.md §1.3): which credits a request targets,
//! and the rule of the credit pools DNA keeps per buyer e-mail.
//!
//! A License Code's own credits (`Target: LICENSE`) are the license's consumption counter and its
//! consumption features; their rules are `rules::plan_consumption` / `plan_feature_consumption`.
//! An e-mail pool (`Target: EMAIL`) is shared by every License Code of one product whose
//! activation e-mail is the same address (compared without case, surrounding blanks ignored): a
//! balance of credits per credit name, funded by the vendor, used by any of those codes.
//! `Target: ALL` reads both, and consumes from the code's own credit first, as DNA documents, then
//! from the pool: one consumption is taken whole from one source, never split across the two.

use crate::{Denial, License, Millis, Product, rules};
use serde::{Deserialize, Serialize};

/// The most credit types (names) one buyer e-mail may hold per product ("up to 5 credit types").
pub const MAX_POOL_TYPES: usize = 5;

/// The largest balance a pool may hold: 10^12 stays exact in every JSON reader (below 2^53).
pub const MAX_POOL_BALANCE: i64 = 1_000_000_000_000;

/// Where a DNA credit lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditSource {
    /// The License Code's own credits.
    License,
    /// The pool of the code's buyer e-mail.
    Email,
}

impl CreditSource {
    /// DNA's `Target` word for a credit of this source.
    pub fn target_word(self) -> &'static str {
        match self {
            CreditSource::License => "LICENSE",
            CreditSource::Email => "EMAIL",
        }
    }
}

/// DNA's `Target` of a credits query or consumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditTarget {
    License,
    Email,
    All,
}

impl CreditTarget {
    /// `LICENSE`, `EMAIL` or `ALL` in any case; no `Target` means `LICENSE`. `None` when the word is
    /// none of them.
    pub fn parse(word: Option<&str>) -> Option<Self> {
        match word.map(str::to_ascii_uppercase).as_deref() {
            None | Some("LICENSE") => Some(CreditTarget::License),
            Some("EMAIL") => Some(CreditTarget::Email),
            Some("ALL") => Some(CreditTarget::All),
            Some(_) => None,
        }
    }

    /// The sources the target covers, in the order a consumption tries them (the code's own
    /// credits first).
    pub fn sources(self) -> &'static [CreditSource] {
        match self {
            CreditTarget::License => &[CreditSource::License],
            CreditTarget::Email => &[CreditSource::Email],
            CreditTarget::All => &[CreditSource::License, CreditSource::Email],
        }
    }
}

/// Whether a consumption that one source refused may be taken from the next source of `ALL`: only
/// when that source has no such credit or too few of it. A refusal about the code itself (banned,
/// expired, not started …) ends the consumption.
pub fn falls_through(denial: Denial) -> bool {
    matches!(
        denial,
        Denial::NotConsumption
            | Denial::FeatureNotFound
            | Denial::FeatureNotConsumption
            | Denial::FeatureExpired
            | Denial::ConsumptionLimitReached
            | Denial::FeatureConsumptionLimitReached
    )
}

/// The refusal of an `ALL` consumption that no source could take: the pool's, unless the pool has
/// no such credit at all, in which case the code's own refusal says more.
pub fn combined_refusal(license: Denial, pool: Denial) -> Denial {
    if pool == Denial::FeatureNotFound { license } else { pool }
}

/// The key under which an e-mail's pools are kept: trimmed, ASCII-lowercased.
pub fn pool_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// One credit of an e-mail pool: what is left, and what was used over its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolBalance {
    pub balance: i64,
    pub consumed: i64,
}

/// Whether a License Code may use `amount` credits of its e-mail pool, and the pool after it.
/// `pool` is the pool's credit of that name, read under its row lock (`None`: the e-mail holds no
/// such credit, or the code has no e-mail). The code must be usable, as for its own credits.
pub fn plan_pool_consumption(
    product: &Product,
    license: &License,
    pool: Option<PoolBalance>,
    amount: i64,
    now: Millis,
) -> Result<PoolBalance, Denial> {
    rules::check_license_usable(product, license, now)?;
    let pool = pool.ok_or(Denial::FeatureNotFound)?;
    if amount <= 0 {
        return Err(Denial::ConsumptionAmountInvalid);
    }
    if amount > pool.balance {
        return Err(Denial::ConsumptionLimitReached);
    }
    Ok(PoolBalance {
        balance: pool.balance - amount,
        consumed: pool.consumed.saturating_add(amount),
    })
}

/// How a vendor funds a pool credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funding {
    /// The balance becomes this (a manual allocation or correction).
    Set(i64),
    /// This many credits are added (a replenishment).
    Add(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FundingError {
    #[error("count must be between 0 and {MAX_POOL_BALANCE}, and the balance may not exceed it")]
    OutOfRange,
    #[error("a buyer email holds at most {MAX_POOL_TYPES} credit types per product")]
    TooManyTypes,
}

/// The pool credit after `funding`. `current` is the credit (None: a new credit name) and
/// `other_types` how many other credit names the e-mail already holds for the product.
pub fn plan_funding(
    current: Option<PoolBalance>,
    other_types: usize,
    funding: Funding,
) -> Result<PoolBalance, FundingError> {
    if current.is_none() && other_types >= MAX_POOL_TYPES {
        return Err(FundingError::TooManyTypes);
    }
    let current = current.unwrap_or_default();
    let balance = match funding {
        Funding::Set(count) => count,
        Funding::Add(count) if count < 0 => return Err(FundingError::OutOfRange),
        Funding::Add(count) => current.balance.checked_add(count).ok_or(FundingError::OutOfRange)?,
    };
    if !(0..=MAX_POOL_BALANCE).contains(&balance) {
        return Err(FundingError::OutOfRange);
    }
    Ok(PoolBalance {
        balance,
        consumed: current.consumed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_their_order() {
        assert_eq!(CreditTarget::parse(None), Some(CreditTarget::License));
        assert_eq!(CreditTarget::parse(Some("email")), Some(CreditTarget::Email));
        assert_eq!(CreditTarget::parse(Some("All")), Some(CreditTarget::All));
        assert_eq!(CreditTarget::parse(Some("BOGUS")), None);
        assert_eq!(
            CreditTarget::All.sources(),
            &[CreditSource::License, CreditSource::Email]
        );
        assert!(falls_through(Denial::ConsumptionLimitReached));
        assert!(!falls_through(Denial::LicenseBlocked));
        assert_eq!(
            combined_refusal(Denial::NotConsumption, Denial::FeatureNotFound),
            Denial::NotConsumption
        );
        assert_eq!(
            combined_refusal(Denial::ConsumptionLimitReached, Denial::ConsumptionLimitReached),
            Denial::ConsumptionLimitReached
        );
        assert_eq!(pool_email("  Buyer@Example.COM "), "buyer@example.com");
    }

    fn product() -> Product {
        Product {
            trial_allowed: true,
            trial_days: 14,
            ..crate::test_fixtures::product()
        }
    }

    fn license() -> License {
        crate::test_fixtures::license()
    }

    #[test]
    fn pool_consumption_is_capped_and_checks_the_code_first() {
        let (product, license) = (product(), license());
        let pool = Some(PoolBalance {
            balance: 3,
            consumed: 1,
        });
        let plan = |license: &License, pool, amount| plan_pool_consumption(&product, license, pool, amount, 1_000);
        assert_eq!(
            plan(&license, pool, 3),
            Ok(PoolBalance {
                balance: 0,
                consumed: 4
            })
        );
        assert_eq!(plan(&license, pool, 4), Err(Denial::ConsumptionLimitReached));
        assert_eq!(plan(&license, pool, 0), Err(Denial::ConsumptionAmountInvalid));
        assert_eq!(plan(&license, None, 1), Err(Denial::FeatureNotFound));
        let blocked = License {
            status: crate::LicenseStatus::Blocked,
            ..license.clone()
        };
        assert_eq!(plan(&blocked, pool, 1), Err(Denial::LicenseBlocked));
        let expired = License {
            expires_at: Some(1_000),
            ..license
        };
        assert_eq!(plan(&expired, pool, 1), Err(Denial::LicenseExpired));
    }

    #[test]
    fn funding_is_bounded() {
        let pool = Some(PoolBalance {
            balance: 5,
            consumed: 2,
        });
        assert_eq!(
            plan_funding(pool, 0, Funding::Add(3)),
            Ok(PoolBalance {
                balance: 8,
                consumed: 2
            })
        );
        assert_eq!(
            plan_funding(pool, 4, Funding::Set(0)),
            Ok(PoolBalance {
                balance: 0,
                consumed: 2
            })
        );
        assert_eq!(plan_funding(None, 4, Funding::Set(1)).map(|p| p.balance), Ok(1));
        assert_eq!(plan_funding(None, 5, Funding::Set(1)), Err(FundingError::TooManyTypes));
        assert_eq!(plan_funding(pool, 5, Funding::Set(1)).map(|p| p.balance), Ok(1));
        assert_eq!(plan_funding(pool, 0, Funding::Set(-1)), Err(FundingError::OutOfRange));
        assert_eq!(plan_funding(pool, 0, Funding::Add(-1)), Err(FundingError::OutOfRange));
        assert_eq!(
            plan_funding(pool, 0, Funding::Add(MAX_POOL_BALANCE)),
            Err(FundingError::OutOfRange)
        );
        assert_eq!(
            plan_funding(pool, 0, Funding::Add(i64::MAX)),
            Err(FundingError::OutOfRange)
        );
    }
}

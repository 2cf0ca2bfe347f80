//! Generators: named key patterns of a product that mint license keys in bulk (Key Manager
//! generators; also used by random assignment and contracts). Minted keys inherit the generator's
//! activation limit and validity.

use crate::clock::Millis;
use crate::keygen::{KeyPattern, PatternError};
use serde::{Deserialize, Serialize};

/// Most keys one generation request may mint.
pub const MAX_BATCH: i64 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Generator {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: crate::ProductId,
    pub name: String,
    pub pattern: KeyPattern,
    /// Activations a minted key allows; 0 is unlimited.
    pub activation_limit: i64,
    /// Days a minted key is valid from its assignment; 0 never expires.
    pub validity_days: i64,
    /// Inactive generators mint nothing.
    pub active: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What an administrator sets on a generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    pub name: String,
    #[serde(default)]
    pub pattern: KeyPattern,
    #[serde(default)]
    pub activation_limit: i64,
    #[serde(default)]
    pub validity_days: i64,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    #[error("name must be 1 to 255 characters")]
    Name,
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("prefix and suffix must be at most 64 characters")]
    Affix,
    #[error("activation_limit and validity_days must not be negative")]
    Negative,
    #[error("quantity must be between 1 and {MAX_BATCH}")]
    Quantity,
    #[error("generator is inactive")]
    Inactive,
}

impl GeneratorSpec {
    pub fn validate(&self) -> Result<(), GeneratorError> {
        if self.name.trim().is_empty() || self.name.len() > 255 {
            return Err(GeneratorError::Name);
        }
        if self.pattern.prefix.len() > 64 || self.pattern.suffix.len() > 64 {
            return Err(GeneratorError::Affix);
        }
        self.pattern.validate()?;
        if self.activation_limit < 0 || self.validity_days < 0 {
            return Err(GeneratorError::Negative);
        }
        Ok(())
    }
}

impl Generator {
    /// Key Manager's `method`: `uuid` or `chunk-system`.
    pub fn method(&self) -> &'static str {
        if self.pattern.uuid { "uuid" } else { "chunk-system" }
    }

    /// Whether `quantity` keys may be minted now.
    pub fn check_mint(&self, quantity: i64) -> Result<(), GeneratorError> {
        if !self.active {
            return Err(GeneratorError::Inactive);
        }
        check_quantity(quantity)
    }

    /// One key from `random` (at least `pattern.bytes_needed()` bytes).
    pub fn mint(&self, random: &[u8]) -> String {
        self.pattern.generate(random)
    }
}

pub fn check_quantity(quantity: i64) -> Result<(), GeneratorError> {
    if (1..=MAX_BATCH).contains(&quantity) {
        Ok(())
    } else {
        Err(GeneratorError::Quantity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GeneratorSpec {
        GeneratorSpec {
            name: "pro".into(),
            pattern: KeyPattern::default(),
            activation_limit: 2,
            validity_days: 365,
            active: true,
        }
    }

    #[test]
    fn specs_are_validated() {
        assert_eq!(spec().validate(), Ok(()));
        assert_eq!(
            GeneratorSpec {
                name: " ".into(),
                ..spec()
            }
            .validate(),
            Err(GeneratorError::Name)
        );
        assert_eq!(
            GeneratorSpec {
                activation_limit: -1,
                ..spec()
            }
            .validate(),
            Err(GeneratorError::Negative)
        );
        let mut weak = spec();
        weak.pattern.chunks = 1;
        weak.pattern.chunk_length = 2;
        assert_eq!(
            weak.validate(),
            Err(GeneratorError::Pattern(PatternError::TooGuessable))
        );
        let mut long = spec();
        long.pattern.prefix = "P".repeat(65);
        assert_eq!(long.validate(), Err(GeneratorError::Affix));
    }

    #[test]
    fn minting_needs_an_active_generator_and_a_sane_quantity() {
        let mut generator = Generator {
            id: 1,
            product_id: crate::ProductId::new(1),
            name: "g".into(),
            pattern: KeyPattern {
                prefix: "PRO-".into(),
                ..KeyPattern::default()
            },
            activation_limit: 1,
            validity_days: 0,
            active: true,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(generator.check_mint(1), Ok(()));
        assert_eq!(generator.check_mint(MAX_BATCH), Ok(()));
        assert_eq!(generator.check_mint(0), Err(GeneratorError::Quantity));
        assert_eq!(generator.check_mint(MAX_BATCH + 1), Err(GeneratorError::Quantity));
        assert!(
            generator
                .mint(&vec![7; generator.pattern.bytes_needed()])
                .starts_with("PRO-")
        );
        assert_eq!(generator.method(), "chunk-system");
        generator.active = false;
        assert_eq!(generator.check_mint(1), Err(GeneratorError::Inactive));
    }
}

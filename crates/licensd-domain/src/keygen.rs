//! License key patterns for bulk issue: chunked keys over a charset with prefix and suffix, or
//! UUID-shaped keys. Randomness is passed in so the rule stays pure and testable.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyPattern {
    /// Characters keys are drawn from; defaults to an unambiguous upper-case set.
    #[serde(default = "default_charset")]
    pub charset: String,
    #[serde(default = "default_chunks")]
    pub chunks: u32,
    #[serde(default = "default_chunk_length")]
    pub chunk_length: u32,
    #[serde(default = "default_separator")]
    pub separator: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
    /// Produce UUID-shaped keys (8-4-4-4-12 lower-case hex) instead of chunks.
    #[serde(default)]
    pub uuid: bool,
}

fn default_charset() -> String {
    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".into()
}
fn default_chunks() -> u32 {
    4
}
fn default_chunk_length() -> u32 {
    5
}
fn default_separator() -> String {
    "-".into()
}

impl Default for KeyPattern {
    fn default() -> Self {
        Self {
            charset: default_charset(),
            chunks: default_chunks(),
            chunk_length: default_chunk_length(),
            separator: default_separator(),
            prefix: String::new(),
            suffix: String::new(),
            uuid: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("charset needs at least 2 distinct characters")]
    Charset,
    #[error("a key needs 1 to 16 chunks of 1 to 64 characters")]
    Shape,
    #[error("the pattern gives fewer than 64 bits of randomness; use more or longer chunks")]
    TooGuessable,
}

impl KeyPattern {
    pub fn validate(&self) -> Result<(), PatternError> {
        if self.uuid {
            return Ok(());
        }
        let mut distinct: Vec<char> = self.charset.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 2 || distinct.len() != self.charset.chars().count() {
            return Err(PatternError::Charset);
        }
        if !(1..=16).contains(&self.chunks) || !(1..=64).contains(&self.chunk_length) {
            return Err(PatternError::Shape);
        }
        if self.entropy_bits() < 64.0 {
            return Err(PatternError::TooGuessable);
        }
        Ok(())
    }

    /// Bits of randomness in one key.
    pub fn entropy_bits(&self) -> f64 {
        if self.uuid {
            return 122.0;
        }
        let symbols = self.charset.chars().count().max(1) as f64;
        f64::from(self.chunks * self.chunk_length) * symbols.log2()
    }

    /// Random bytes `generate` consumes per key.
    pub fn bytes_needed(&self) -> usize {
        if self.uuid {
            16
        } else {
            (self.chunks * self.chunk_length) as usize * 4
        }
    }

    /// Builds one key from `random` (at least `bytes_needed()` bytes). Each character takes a
    /// 32-bit sample reduced modulo the charset size; with ≤ 256 symbols the bias is below 2^-24.
    pub fn generate(&self, random: &[u8]) -> String {
        if self.uuid {
            let mut b = [0u8; 16];
            b.copy_from_slice(&random[..16]);
            // Version 4, RFC 9562 variant, lower-case 8-4-4-4-12.
            let uuid = uuid::Builder::from_random_bytes(b).into_uuid();
            return format!("{}{}{}", self.prefix, uuid.hyphenated(), self.suffix);
        }
        let symbols: Vec<char> = self.charset.chars().collect();
        let mut samples = random
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut key = self.prefix.clone();
        for chunk in 0..self.chunks {
            if chunk > 0 {
                key.push_str(&self.separator);
            }
            for _ in 0..self.chunk_length {
                let sample = samples.next().unwrap_or(0) as usize;
                key.push(symbols[sample % symbols.len()]);
            }
        }
        key.push_str(&self.suffix);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pattern_shape() {
        let p = KeyPattern::default();
        p.validate().unwrap();
        let random: Vec<u8> = (0..p.bytes_needed()).map(|i| i as u8).collect();
        let key = p.generate(&random);
        assert_eq!(key.len(), 4 * 5 + 3);
        assert_eq!(key.split('-').count(), 4);
        assert!(key.chars().all(|c| c == '-' || p.charset.contains(c)));
        // Different randomness, different key.
        let other: Vec<u8> = (0..p.bytes_needed()).map(|i| (i * 7 + 3) as u8).collect();
        assert_ne!(p.generate(&other), key);
    }

    #[test]
    fn prefix_suffix_and_uuid() {
        let p = KeyPattern {
            prefix: "PRE-".into(),
            suffix: "-X".into(),
            ..KeyPattern::default()
        };
        let key = p.generate(&vec![1; p.bytes_needed()]);
        assert!(key.starts_with("PRE-") && key.ends_with("-X"));
        let u = KeyPattern {
            uuid: true,
            ..KeyPattern::default()
        };
        let key = u.generate(&[0xff; 16]);
        assert_eq!(key, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }

    #[test]
    fn weak_or_broken_patterns_are_refused() {
        let short = KeyPattern {
            chunks: 1,
            chunk_length: 4,
            ..KeyPattern::default()
        };
        assert_eq!(short.validate(), Err(PatternError::TooGuessable));
        let one_symbol = KeyPattern {
            charset: "AAAA".into(),
            ..KeyPattern::default()
        };
        assert_eq!(one_symbol.validate(), Err(PatternError::Charset));
        let huge = KeyPattern {
            chunks: 17,
            ..KeyPattern::default()
        };
        assert_eq!(huge.validate(), Err(PatternError::Shape));
    }
}

//! Product versions and their installation files, and the rules that decide which versions a
//! license may see: enabled, in the requested environment and channel, released within the
//! license's maintenance period, and whose `requires_version` the installed version satisfies.

use crate::clock::Millis;
use crate::model::License;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One released version of a product and its installation file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductVersion {
    pub id: i64,
    /// What was recorded (serialized inline, beside `id`).
    #[serde(flatten)]
    pub spec: ProductVersionSpec,
    pub created_at: Millis,
}

/// What is recorded about a product version: all but its id and when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductVersionSpec {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: crate::ids::ProductId,
    /// Dotted version, e.g. `2.1.0`.
    pub version: String,
    /// Target environment (`win64`, `linux`, `mac`, …); `None` serves every environment.
    pub environment: Option<String>,
    /// Release channel (`stable`, `beta`, …); `None` is the default channel.
    pub channel: Option<String>,
    pub release_date: Millis,
    /// Where the installation file is downloaded from.
    pub download_url: String,
    pub hash_md5: Option<String>,
    pub size: Option<i64>,
    pub eula_link: Option<String>,
    pub release_notes_link: Option<String>,
    /// The lowest installed version this version can be installed over.
    pub requires_version: Option<String>,
    pub enabled: bool,
}

/// Compares dotted versions part by part, numerically where both parts are numbers
/// (`1.10` > `1.9`), as text otherwise; missing parts count as zero (`1.0` = `1`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |text: &str| -> Vec<String> { text.trim().split(['.', '-']).map(str::to_string).collect() };
    let (left, right) = (parts(a), parts(b));
    for index in 0..left.len().max(right.len()) {
        let l = left.get(index).map_or("0", String::as_str);
        let r = right.get(index).map_or("0", String::as_str);
        let order = match (l.parse::<u64>(), r.parse::<u64>()) {
            (Ok(l), Ok(r)) => l.cmp(&r),
            _ => l.cmp(r),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// What a client asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionQuery<'a> {
    pub environment: Option<&'a str>,
    pub channel: Option<&'a str>,
    /// The version the client runs now, checked against `requires_version`.
    pub installed: Option<&'a str>,
}

/// Whether the license may see this version.
pub fn version_available(version: &ProductVersion, license: &License, query: &VersionQuery<'_>) -> bool {
    version.spec.enabled
        && version.spec.product_id == license.product_id
        && match (&version.spec.environment, query.environment) {
            (Some(env), Some(wanted)) => env.eq_ignore_ascii_case(wanted),
            _ => true,
        }
        && match (&version.spec.channel, query.channel) {
            (Some(channel), Some(wanted)) => channel.eq_ignore_ascii_case(wanted),
            (Some(_), None) => false,
            (None, Some(_)) => false,
            (None, None) => true,
        }
        // Versions released after maintenance ended are not part of what the license bought.
        && license
            .maintenance_expires_at
            .is_none_or(|until| version.spec.release_date <= until)
        && match (&version.spec.requires_version, query.installed) {
            (Some(required), Some(installed)) => compare_versions(installed, required) != Ordering::Less,
            _ => true,
        }
}

/// The versions a license may see, oldest first.
pub fn available_versions<'a>(
    versions: &'a [ProductVersion],
    license: &License,
    query: &VersionQuery<'_>,
) -> Vec<&'a ProductVersion> {
    let mut list: Vec<&ProductVersion> = versions
        .iter()
        .filter(|version| version_available(version, license, query))
        .collect();
    list.sort_by(|a, b| {
        compare_versions(&a.spec.version, &b.spec.version).then(a.spec.release_date.cmp(&b.spec.release_date))
    });
    list
}

/// The installation file for `wanted` (or the latest available version when `None`); `None` when
/// no available version matches.
pub fn installation_file<'a>(
    versions: &'a [ProductVersion],
    license: &License,
    query: &VersionQuery<'_>,
    wanted: Option<&str>,
) -> Option<&'a ProductVersion> {
    let list = available_versions(versions, license, query);
    match wanted {
        Some(wanted) => list
            .into_iter()
            .rev()
            .find(|version| compare_versions(&version.spec.version, wanted) == Ordering::Equal),
        None => list.last().copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::LicenseId;
    use crate::model::*;

    fn version(id: i64, text: &str, released: Millis) -> ProductVersion {
        ProductVersion {
            id,
            spec: spec(text, released),
            created_at: 0,
        }
    }

    fn spec(text: &str, released: Millis) -> ProductVersionSpec {
        ProductVersionSpec {
            product_id: crate::ids::ProductId::new(1),
            version: text.into(),
            environment: None,
            channel: None,
            release_date: released,
            download_url: format!("https://example.com/{text}"),
            hash_md5: None,
            size: None,
            eula_link: None,
            release_notes_link: None,
            requires_version: None,
            enabled: true,
        }
    }

    fn license(maintenance: Option<Millis>) -> License {
        License {
            id: LicenseId::new(1),
            key: Some("K".into()),
            maintenance_expires_at: maintenance,
            ..crate::test_fixtures::license()
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.0", "1"), Ordering::Equal);
        assert_eq!(compare_versions("2.0.1", "2.0.0"), Ordering::Greater);
        assert_eq!(compare_versions("1.0-beta", "1.0-alpha"), Ordering::Greater);
    }

    #[test]
    fn availability_filters() {
        let mut list = vec![version(1, "1.0", 10), version(2, "1.10", 30), version(3, "1.9", 20)];
        list.push(ProductVersion {
            spec: ProductVersionSpec {
                enabled: false,
                ..spec("3.0", 40)
            },
            ..version(4, "3.0", 40)
        });
        list.push(ProductVersion {
            spec: ProductVersionSpec {
                environment: Some("win64".into()),
                ..spec("2.0", 25)
            },
            ..version(5, "2.0", 25)
        });
        list.push(ProductVersion {
            spec: ProductVersionSpec {
                channel: Some("beta".into()),
                ..spec("4.0", 26)
            },
            ..version(6, "4.0", 26)
        });
        list.push(ProductVersion {
            spec: ProductVersionSpec {
                requires_version: Some("1.9".into()),
                ..spec("1.11", 27)
            },
            ..version(7, "1.11", 27)
        });
        let lic = license(None);
        let names = |query: &VersionQuery<'_>, lic: &License| -> Vec<String> {
            available_versions(&list, lic, query)
                .iter()
                .map(|v| v.spec.version.clone())
                .collect()
        };
        assert_eq!(
            names(&VersionQuery::default(), &lic),
            ["1.0", "1.9", "1.10", "1.11", "2.0"]
        );
        let linux = VersionQuery {
            environment: Some("linux"),
            ..VersionQuery::default()
        };
        assert_eq!(names(&linux, &lic), ["1.0", "1.9", "1.10", "1.11"]);
        let beta = VersionQuery {
            channel: Some("beta"),
            ..VersionQuery::default()
        };
        assert_eq!(names(&beta, &lic), ["4.0"]);
        let old = VersionQuery {
            installed: Some("1.0"),
            ..VersionQuery::default()
        };
        assert_eq!(names(&old, &lic), ["1.0", "1.9", "1.10", "2.0"]);
        // Maintenance ended at 20: later releases are out.
        assert_eq!(names(&VersionQuery::default(), &license(Some(20))), ["1.0", "1.9"]);
        assert_eq!(
            installation_file(&list, &lic, &VersionQuery::default(), None).map(|v| v.id),
            Some(5)
        );
        assert_eq!(
            installation_file(&list, &lic, &VersionQuery::default(), Some("1.9")).map(|v| v.id),
            Some(3)
        );
        assert_eq!(
            installation_file(&list, &lic, &VersionQuery::default(), Some("3.0")),
            None
        );
    }
}

//! Back-office master data SLASCONE brings into the domain: vendor-defined **named entries**
//! (customer types, resellers with their types and contacts, tags, webhooks, and per-product
//! license types, heartbeat types and variables), the **SLASCONE profile of a customer** (customer
//! number, prospect number, type, country, language) and the pure checks on their values
//! (country and language codes, webhook URLs, the expiration date formats SLASCONE accepts).
//!
//! The native `/v1/slascone/…` API and the SLASCONE dialect's AdminKey paths manage the same
//! entries through the same store commands.

use serde::{Deserialize, Serialize};

/// What a named entry is, and what scopes it (whose uniqueness its name has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    CustomerType,
    ResellerType,
    Reseller,
    /// Scoped by its reseller; the name is the contact's email.
    ResellerContact,
    Tag,
    /// The name is the URL (unique); the detail is the display name.
    Webhook,
    /// Scoped by product.
    LicenseType,
    /// Scoped by product.
    HeartbeatType,
    /// Scoped by product; the detail is the description.
    Variable,
    /// Scoped by product; the name is the highest software version a license with this
    /// limitation may run (SLASCONE's software release limitation).
    SoftwareRelease,
}

impl EntryKind {
    pub const ALL: &'static [EntryKind] = &[
        Self::CustomerType,
        Self::ResellerType,
        Self::Reseller,
        Self::ResellerContact,
        Self::Tag,
        Self::Webhook,
        Self::LicenseType,
        Self::HeartbeatType,
        Self::Variable,
        Self::SoftwareRelease,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerType => "customer_type",
            Self::ResellerType => "reseller_type",
            Self::Reseller => "reseller",
            Self::ResellerContact => "reseller_contact",
            Self::Tag => "tag",
            Self::Webhook => "webhook",
            Self::LicenseType => "license_type",
            Self::HeartbeatType => "heartbeat_type",
            Self::Variable => "variable",
            Self::SoftwareRelease => "software_release",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == text)
    }

    /// A license holds at most one value of these kinds (a new one replaces the old).
    pub fn single_per_license(self) -> bool {
        matches!(self, Self::LicenseType | Self::SoftwareRelease)
    }

    /// Which scope the kind's names are unique in.
    pub fn scope(self) -> EntryScope {
        match self {
            Self::LicenseType | Self::HeartbeatType | Self::Variable | Self::SoftwareRelease => EntryScope::Product,
            Self::ResellerContact => EntryScope::Reseller,
            _ => EntryScope::Global,
        }
    }
}

/// What `scope_id` of an entry refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryScope {
    /// `scope_id` is 0.
    Global,
    Product,
    Reseller,
}

/// One named entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    pub id: i64,
    pub kind: EntryKind,
    /// The product or reseller the entry belongs to; 0 for global kinds.
    pub scope_id: i64,
    /// Unique within (kind, scope): a name, a webhook's URL, a contact's email.
    pub name: String,
    pub detail: Option<String>,
    pub created_at: crate::Millis,
}

/// The SLASCONE master data of a customer beyond the core fields (the customer number is also the
/// core customer's `reference`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerProfile {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub customer_id: crate::CustomerId,
    pub customer_number: String,
    pub prospect_number: Option<String>,
    pub customer_type_id: Option<i64>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    /// ISO 639-1, lower case.
    pub language: Option<String>,
}

/// Who a tag is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TagTarget {
    Customer,
    License,
}

impl TagTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::License => "license",
        }
    }
}

// ISO 3166-1 alpha-2: the 249 officially assigned codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR \
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ \
FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE \
JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR \
MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU \
RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG \
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

// ISO 639-1: the 183 two-letter language codes.
const LANGUAGES: &str = "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da \
de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is \
it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb \
nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st \
su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// The canonical (upper-case) ISO 3166-1 alpha-2 code, or `None` for an unknown country.
pub fn country_code(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    (code.len() == 2 && COUNTRIES.split_ascii_whitespace().any(|c| c == code)).then_some(code)
}

/// The canonical (lower-case) ISO 639-1 code, or `None` for an unknown language. A regional tag
/// (`de-CH`) counts as its language.
pub fn language_code(text: &str) -> Option<String> {
    let text = text.trim();
    let primary = text.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    (primary.len() == 2 && LANGUAGES.split_ascii_whitespace().any(|c| c == primary)).then_some(primary)
}

/// An absolute `http`/`https` URL with a host (webhook targets are called by the server).
pub fn valid_webhook_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) || text.len() > 2048 {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // User info is not allowed: credentials do not belong in a stored URL.
    if authority.contains('@') {
        return false;
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, after)) => (address, after.strip_prefix(':')),
            None => return false,
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.:".contains(c))
        && !host.starts_with(['.', '-'])
        && !host.ends_with('-');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok_and(|n| n > 0));
    host_ok && port_ok
}

/// Whether a client running `version` complies with a software release limitation (the highest
/// release the license covers): versions up to and including it comply.
pub fn version_complies(version: &str, limitation: &str) -> bool {
    crate::product_version::compare_versions(version, limitation) != std::cmp::Ordering::Greater
}

/// Parses an expiration date in a format SLASCONE accepts (`mm/dd/yyyy`, `dd.mm.yyyy`,
/// `yyyy-mm-dd`, and the ISO instants its JSON clients send) into the UTC instant it names
/// (midnight UTC for a bare date). `None` for anything else, including impossible dates.
pub fn parse_expiration_date(text: &str) -> Option<crate::Millis> {
    let text = text.trim();
    if let Some(at) = crate::clock::parse_rfc3339(text) {
        return Some(at);
    }
    // Digits and the three separators only: no signs, spaces or padding jiff would also read.
    if !text.bytes().all(|b| b.is_ascii_digit() || b"/.-".contains(&b)) {
        return None;
    }
    let date = ["%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d"]
        .iter()
        .find_map(|format| jiff::civil::Date::strptime(format, text).ok())?;
    if date.year() < 1000 {
        return None;
    }
    let zoned = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// Why a license may not take an edition (or a temporary flag) it was asked to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditionChange {
    /// The edition's provisioning mode (named or floating) differs from the license's.
    ProvisioningMode,
    /// The edition is temporary and the license is not, or the other way round.
    Temporary,
}

/// Whether terms are temporary (SLASCONE's `is_temporary`): licensd's `trial` kind.
pub fn is_temporary(terms: &crate::LicenseTerms) -> bool {
    terms.kind == crate::LicenseKind::Trial
}

/// Whether a license with `license` terms may move to an edition with `edition` terms: the
/// provisioning mode and the temporary-ness are core properties that never change on a license
/// (SLASCONE 8002, 8003). The license keeps its own limits either way.
pub fn check_edition_switch(license: &crate::LicenseTerms, edition: &crate::LicenseTerms) -> Result<(), EditionChange> {
    if license.floating.is_some() != edition.floating.is_some() {
        return Err(EditionChange::ProvisioningMode);
    }
    check_temporary(license, is_temporary(edition))
}

/// Whether a license with `license` terms may be `temporary`: a non-temporary license is never
/// converted to a temporary one, nor the other way round (SLASCONE 8003); asking for what it
/// already is, is fine.
pub fn check_temporary(license: &crate::LicenseTerms, temporary: bool) -> Result<(), EditionChange> {
    if is_temporary(license) == temporary {
        Ok(())
    } else {
        Err(EditionChange::Temporary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editions_keep_mode_and_temporariness() {
        use crate::{FloatingTerms, LicenseKind, LicenseTerms};
        let named = LicenseTerms::default();
        let temporary = LicenseTerms {
            kind: LicenseKind::Trial,
            ..LicenseTerms::default()
        };
        let floating = LicenseTerms {
            floating: Some(FloatingTerms {
                seats: 2,
                lease_seconds: 1800,
                borrow_allowed: false,
                max_borrow_hours: 0,
                sessions_per_client: None,
            }),
            ..LicenseTerms::default()
        };
        assert_eq!(check_edition_switch(&named, &named), Ok(()));
        assert_eq!(
            check_edition_switch(&named, &floating),
            Err(EditionChange::ProvisioningMode)
        );
        assert_eq!(
            check_edition_switch(&floating, &named),
            Err(EditionChange::ProvisioningMode)
        );
        assert_eq!(check_edition_switch(&named, &temporary), Err(EditionChange::Temporary));
        assert_eq!(check_edition_switch(&temporary, &named), Err(EditionChange::Temporary));
        assert_eq!(check_temporary(&named, false), Ok(()));
        assert_eq!(check_temporary(&temporary, true), Ok(()));
        assert_eq!(check_temporary(&named, true), Err(EditionChange::Temporary));
        assert_eq!(check_temporary(&temporary, false), Err(EditionChange::Temporary));
    }

    #[test]
    fn code_lists_are_complete() {
        assert_eq!(COUNTRIES.split_ascii_whitespace().count(), 249);
        assert_eq!(LANGUAGES.split_ascii_whitespace().count(), 183);
        assert_eq!(country_code(" ch "), Some("CH".to_owned()));
        assert_eq!(country_code("XX"), None);
        assert_eq!(country_code("CHE"), None);
        assert_eq!(language_code("DE"), Some("de".to_owned()));
        assert_eq!(language_code("de-CH"), Some("de".to_owned()));
        assert_eq!(language_code("xx"), None);
        assert_eq!(language_code("german"), None);
    }

    #[test]
    fn software_versions() {
        assert!(version_complies("2.0", "2.0"));
        assert!(version_complies("1.9.9", "2.0"));
        assert!(version_complies("2", "2.0.0"));
        assert!(!version_complies("2.0.1", "2.0"));
        assert!(!version_complies("10.0", "9.9"));
    }

    #[test]
    fn webhook_urls() {
        for good in [
            "https://example.com/hook",
            "http://10.0.0.1:8080/x?y=1",
            "https://[::1]:443/",
            "https://hooks.example.co.uk",
        ] {
            assert!(valid_webhook_url(good), "{good}");
        }
        for bad in [
            "",
            "example.com",
            "ftp://example.com",
            "https://",
            "https:// example.com",
            "https://user:pw@example.com",
            "https://example.com:0/",
            "https://example.com:99999/",
            "https://-bad.example.com",
            "not a url",
        ] {
            assert!(!valid_webhook_url(bad), "{bad}");
        }
    }

    #[test]
    fn expiration_dates() {
        let day = parse_expiration_date("2030-12-31");
        assert_eq!(day, Some(1_924_905_600_000));
        assert_eq!(parse_expiration_date("12/31/2030"), day);
        assert_eq!(parse_expiration_date("31.12.2030"), day);
        assert_eq!(parse_expiration_date("2030-12-31T00:00:00Z"), day);
        assert_eq!(parse_expiration_date("1/2/2030"), parse_expiration_date("2030-01-02"));
        assert_eq!(parse_expiration_date("2.1.2030"), parse_expiration_date("2030-01-02"));
        for bad in [
            "",
            "31/12/2030",
            "2030-02-30",
            "2030/12/31",
            "12-31-2030",
            "tomorrow",
            "2030-12-31x",
            "1.1.30",
            "12/31/+2030",
            "12/31/02030",
            "012/31/2030",
            "12/31/ 2030",
            "0999-12-31",
            "2030-12-31T00:00:00",
        ] {
            assert_eq!(parse_expiration_date(bad), None, "{bad}");
        }
    }
}

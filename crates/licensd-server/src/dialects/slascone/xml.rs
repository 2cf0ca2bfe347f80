//! SLASCONE's offline files — `<slascone_license_file>` and `<slascone_activation_file>` — with
//! an enveloped XML-DSig signature: inclusive C14N 1.0, RSA-SHA256, SHA-256 digest, one
//! `Reference URI=""` with the enveloped-signature transform, no KeyInfo, `Signature` as the last
//! child (the form of SLASCONE's own files in testdata/vectors/slascone).
//!
//! The root declares `xmlns:xsi` and `xmlns:xsd`, in that order, exactly as SLASCONE's own files
//! do (.NET's `XmlSerializer` writes them), and nil elements use the root's `xsi` prefix
//! (`<user_limits xsi:nil="true"></user_limits>`).
//!
//! A general C14N is not needed because licensd writes the document almost in canonical form: no
//! XML declaration, no comments, no whitespace between elements, start and end tags for empty
//! elements, text escaped as C14N escapes it, and no namespace declaration below the root. The
//! one difference is the order of the root's two declarations: C14N sorts namespace nodes by
//! prefix (`xsd` before `xsi`), so the document digest is SHA-256 over the emitted bytes with the
//! root's start tag in that sorted order (`canonical_form`).
//!
//! `SignedInfo` is signed in its canonical form in document context: the `ds` default namespace
//! of `Signature` and the root's `xmlns:xsd`/`xmlns:xsi`, which are in scope of it, are rendered
//! on it (`<SignedInfo xmlns="…xmldsig#" xmlns:xsd="…" xmlns:xsi="…">`). That is what inclusive
//! C14N prescribes and what SLASCONE's own files carry: their SignatureValue verifies over that
//! form and not over a standalone SignedInfo (checked against `ActivationFile.xml` of the
//! vectors), and `xmlsec1 --verify` accepts both theirs and ours (tests/http/slascone.rs and
//! tests/http/slascone/fidelity.rs).

use super::info::LicenseInfo;
use super::info::utc;
use super::wire::{SlError, SlResult};
use licensd_crypto::SigningKey;
use licensd_domain::Millis;

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XSD: &str = "http://www.w3.org/2001/XMLSchema";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Builds an element-only document in canonical form.
#[derive(Default)]
pub struct Canonical {
    out: String,
}

impl Canonical {
    /// C14N text escaping: `&`, `<`, `>` and carriage return.
    fn escape(text: &str, out: &mut String) {
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '\r' => out.push_str("&#xD;"),
                other => out.push(other),
            }
        }
    }

    /// The document's root start tag with SLASCONE's namespace declarations (`xsi`, then `xsd`).
    pub fn root(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(&root_declarations(false));
        self.out.push('>');
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>text</name>`, or a nil element for `None`.
    pub fn text(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => {
                self.open(name);
                Self::escape(value, &mut self.out);
                self.close(name)
            }
            None => {
                self.out.push('<');
                self.out.push_str(name);
                self.out.push_str(" xsi:nil=\"true\"></");
                self.out.push_str(name);
                self.out.push('>');
                self
            }
        }
    }

    pub fn int(&mut self, name: &str, value: Option<i64>) -> &mut Self {
        self.text(name, value.map(|v| v.to_string()).as_deref())
    }

    pub fn boolean(&mut self, name: &str, value: bool) -> &mut Self {
        self.text(name, Some(if value { "true" } else { "false" }))
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

/// The root's namespace declarations: as SLASCONE writes them (`xsi` first), or in C14N order.
fn root_declarations(canonical: bool) -> String {
    if canonical {
        format!(" xmlns:xsd=\"{XSD}\" xmlns:xsi=\"{XSI}\"")
    } else {
        format!(" xmlns:xsi=\"{XSI}\" xmlns:xsd=\"{XSD}\"")
    }
}

/// The inclusive C14N form of a document written by `Canonical` (root declarations sorted).
fn canonical_form(root: &str, document: &str) -> SlResult<String> {
    let emitted = format!("<{root}{}>", root_declarations(false));
    let rest = document.strip_prefix(&emitted).ok_or(SlError::Internal)?;
    Ok(format!("<{root}{}>{rest}", root_declarations(true)))
}

/// `SignedInfo` over a document digest: canonical (in document context: the `ds` default namespace
/// and the root's two declarations rendered on it), or as written inside `Signature`.
fn signed_info(digest_b64: &str, canonical: bool) -> String {
    let open = if canonical {
        format!("<SignedInfo xmlns=\"{DS}\"{}>", root_declarations(true))
    } else {
        "<SignedInfo>".to_owned()
    };
    format!(
        "{open}<CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"></CanonicalizationMethod>\
         <SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"></SignatureMethod>\
         <Reference URI=\"\"><Transforms><Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></Transform></Transforms>\
         <DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></DigestMethod>\
         <DigestValue>{digest_b64}</DigestValue></Reference></SignedInfo>"
    )
}

/// Signs a canonical document `<root>…</root>`: inserts the enveloped signature as the last child.
pub fn sign(key: &SigningKey, root: &str, document: &str) -> SlResult<String> {
    let end = format!("</{root}>");
    let body = document.strip_suffix(&end).ok_or(SlError::Internal)?;
    let canonical = canonical_form(root, document)?;
    let digest = licensd_crypto::b64(&licensd_crypto::sha256(canonical.as_bytes()));
    let signature = key
        .sign(signed_info(&digest, true).as_bytes())
        .map_err(|_| SlError::Internal)?;
    Ok(format!(
        "{body}<Signature xmlns=\"{DS}\">{}<SignatureValue>{}</SignatureValue></Signature>{end}",
        signed_info(&digest, false),
        licensd_crypto::b64(&signature)
    ))
}

/// `<slascone_activation_file>`: proves that the license's token was assigned to the client.
pub fn activation_file(
    key: &SigningKey,
    license_key: &str,
    token_key: &str,
    client_id: &str,
    activated_at: Millis,
) -> SlResult<String> {
    let mut doc = Canonical::default();
    doc.root("slascone_activation_file")
        .text("license_key", Some(license_key))
        .text("token_key", Some(token_key))
        .text("client_id", Some(client_id))
        .text("activation_date_utc", Some(&utc(activated_at)))
        .close("slascone_activation_file");
    sign(key, "slascone_activation_file", &doc.into_string())
}

/// `<slascone_license_file>`: the license for permanent offline use. With `client_id`, the file
/// activates that client inline.
pub fn license_file(
    key: &SigningKey,
    info: &LicenseInfo,
    modified_at: Millis,
    client_id: Option<&str>,
) -> SlResult<String> {
    let mut doc = Canonical::default();
    doc.root("slascone_license_file")
        .text("modified_date_utc", Some(&utc(modified_at)));
    match &info.customer {
        Some(customer) => {
            doc.open("customer")
                .text("customer_id", Some(&customer.customer_id))
                .text("company_name", customer.company_name.as_deref())
                .text("customer_number", customer.customer_number.as_deref())
                .close("customer");
        }
        None => {
            doc.text("customer", None);
        }
    }
    doc.text("license_name", info.license_name.as_deref())
        .text("license_key", info.license_key.as_deref())
        .text("legacy_license_key", info.legacy_license_key.as_deref())
        .text("license_type_id", license_type_field(info, "id").as_deref())
        .text("license_type_name", license_type_field(info, "name").as_deref())
        .text("product_name", Some(&info.product_name))
        .text("product_id", Some(&info.product_id))
        .text("template_name", info.template_name.as_deref())
        .text("template_id", info.template_id.as_deref())
        .int("provisioning_mode", Some(info.provisioning_mode))
        .int("floating_tokens", info.floating_token_limit)
        .int("user_limits", None)
        .text("start_date_utc", info.start_date_utc.as_deref())
        .text("expiration_date_utc", info.expiration_date_utc.as_deref())
        .boolean("is_temporary", info.is_temporary);
    match &info.software_release_limitation {
        Some(release) => {
            let field = |name: &str| release.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
            doc.open("software_release_limitation")
                .text("id", field("id").as_deref())
                .text("product_id", field("product_id").as_deref())
                .text("software_release", field("software_release").as_deref())
                .close("software_release_limitation");
        }
        None => {
            doc.text("software_release_limitation", None);
        }
    }
    doc.int("session_period", info.session_period)
        .int("heartbeat_period", info.heartbeat_period)
        .int("freeride", info.freeride);
    for feature in &info.features {
        doc.open("features")
            .text("id", Some(&feature.id))
            .text("name", Some(&feature.name))
            .text("description", None)
            .boolean("is_active", feature.is_active)
            .text("expiration_date_utc", feature.expiration_date_utc.as_deref())
            .close("features");
    }
    for limitation in &info.limitations {
        doc.open("limitations")
            .text("id", Some(&limitation.id))
            .text("name", Some(&limitation.name))
            .text("description", None)
            .int("value", limitation.value)
            .int("consumption_reset_mode", Some(limitation.consumption_reset_mode))
            .int(
                "consumption_reset_period_days",
                limitation.consumption_reset_period_days,
            )
            .close("limitations");
    }
    for variable in &info.variables {
        let field = |name: &str| {
            variable
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        doc.open("variables")
            .text("id", field("id").as_deref())
            .text("name", field("name").as_deref())
            .text("description", field("description").as_deref())
            .text("value", field("value").as_deref())
            .close("variables");
    }
    if let Some(client_id) = client_id {
        doc.text("client_id", Some(client_id));
    }
    doc.close("slascone_license_file");
    sign(key, "slascone_license_file", &doc.into_string())
}

fn license_type_field(info: &LicenseInfo, name: &str) -> Option<String> {
    info.license_type
        .as_ref()
        .and_then(|t| t.get(name))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_escaping_and_nil() {
        let mut doc = Canonical::default();
        doc.root("r").text("a", Some("x<&>\r\"'")).text("b", None).close("r");
        let xml = doc.into_string();
        assert_eq!(
            xml,
            "<r xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\
             <a>x&lt;&amp;&gt;&#xD;\"'</a><b xsi:nil=\"true\"></b></r>"
        );
        assert_eq!(
            canonical_form("r", &xml).ok().as_deref(),
            Some(
                "<r xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
                 <a>x&lt;&amp;&gt;&#xD;\"'</a><b xsi:nil=\"true\"></b></r>"
            )
        );
    }

    #[test]
    fn signature_covers_the_document_without_itself() -> Result<(), Box<dyn std::error::Error>> {
        let key = SigningKey::generate(licensd_crypto::Algorithm::Rsa2048)?;
        let xml = activation_file(&key, "KEY", "TOKEN", "CLIENT", 0).map_err(|e| e.to_string())?;
        let start = xml.find("<Signature ").ok_or("no signature")?;
        let end = xml.find("</Signature>").ok_or("no end")? + "</Signature>".len();
        let unsigned = canonical_form("slascone_activation_file", &format!("{}{}", &xml[..start], &xml[end..]))
            .map_err(|e| e.to_string())?;
        let digest = licensd_crypto::b64(&licensd_crypto::sha256(unsigned.as_bytes()));
        assert!(xml.contains(&format!("<DigestValue>{digest}</DigestValue>")));
        let value_start = xml.find("<SignatureValue>").ok_or("no value")? + "<SignatureValue>".len();
        let value_end = xml.find("</SignatureValue>").ok_or("no value end")?;
        let signature = licensd_crypto::b64_decode(&xml[value_start..value_end])?;
        key.public_key()
            .verify(signed_info(&digest, true).as_bytes(), &signature)?;
        Ok(())
    }
}

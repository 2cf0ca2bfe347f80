//! `licensd licensespring …`: managing what the LicenseSpring dialect adds: product versions and
//! their installation files (the `/v1/products/{id}/versions` routes) and bundles (the
//! `/v1/products/{id}/bundle-members` and `/v1/licenses/{id}/bundle-members` routes).

use crate::cli::{CliError, Client};
use crate::output;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum LicenseSpringCommand {
    /// List a product's versions.
    Versions { product: i64 },
    /// Add a product version with its installation file.
    AddVersion(Box<AddVersionArgs>),
    /// Delete a product version.
    DeleteVersion { id: i64 },
    /// List a bundle product's member products.
    BundleProducts { product: i64 },
    /// Make a product a member of a bundle product (which makes that product a bundle).
    AddBundleProduct { bundle: i64, member: i64 },
    /// Remove a member product from a bundle product.
    RemoveBundleProduct { bundle: i64, member: i64 },
    /// List a bundle license's member licenses.
    BundleLicenses { license: i64 },
    /// Link a member license (of a member product) to a bundle license.
    LinkBundleLicense { bundle: i64, member: i64 },
    /// Unlink a member license from its bundle license.
    UnlinkBundleLicense { bundle: i64, member: i64 },
}

#[derive(Debug, Args)]
pub struct AddVersionArgs {
    product: i64,
    version: String,
    /// Where the installation file is downloaded from.
    #[arg(long)]
    url: String,
    /// Target environment (win64, linux, mac, …); omitted serves every environment.
    #[arg(long)]
    environment: Option<String>,
    /// Release channel; omitted is the default channel.
    #[arg(long)]
    channel: Option<String>,
    /// Release instant, ms since the epoch [default: now].
    #[arg(long)]
    release_date: Option<i64>,
    #[arg(long)]
    md5: Option<String>,
    #[arg(long)]
    size: Option<i64>,
    #[arg(long)]
    eula_link: Option<String>,
    #[arg(long)]
    release_notes_link: Option<String>,
    /// The lowest installed version this version installs over.
    #[arg(long)]
    requires_version: Option<String>,
    /// Record it disabled (not offered to clients).
    #[arg(long)]
    disabled: bool,
}

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("VERSION", "version"),
    ("ENV", "environment"),
    ("CHANNEL", "channel"),
    ("ENABLED", "enabled"),
    ("URL", "download_url"),
];

fn show(value: &Value, json: bool) -> String {
    output::show(value, json, COLUMNS)
}

/// One of the two bundle-member resources, which the server serves alike: a bundle product's
/// member products and a bundle license's member licenses.
struct BundleMembers {
    /// `products` or `licenses`: the bundle's collection under `/v1`.
    collection: &'static str,
    /// The bundle's id in an answer, and the member's id in a request body.
    id_field: &'static str,
    /// The member ids in an answer.
    members_field: &'static str,
}

const PRODUCT_BUNDLES: BundleMembers = BundleMembers {
    collection: "products",
    id_field: "product_id",
    members_field: "member_product_ids",
};
const LICENSE_BUNDLES: BundleMembers = BundleMembers {
    collection: "licenses",
    id_field: "license_id",
    members_field: "member_license_ids",
};

impl BundleMembers {
    fn path(&self, bundle: i64) -> String {
        format!("/v1/{}/{bundle}/bundle-members", self.collection)
    }

    async fn list(&self, client: &Client, bundle: i64, json: bool) -> Result<String, CliError> {
        let value = client.get(&self.path(bundle)).await?;
        Ok(self.show(&value, json))
    }

    async fn add(&self, client: &Client, bundle: i64, member: i64, json: bool) -> Result<String, CliError> {
        let value = client
            .post(&self.path(bundle), json!({ self.id_field: member }))
            .await?;
        Ok(self.show(&value, json))
    }

    async fn remove(&self, client: &Client, bundle: i64, member: i64) -> Result<(), CliError> {
        client.delete(&format!("{}/{member}", self.path(bundle))).await?;
        Ok(())
    }

    /// A bundle and its members, e.g. `bundle 3: 4, 5`.
    fn show(&self, value: &Value, json: bool) -> String {
        if json {
            return value.to_string();
        }
        let list: Vec<String> = value[self.members_field]
            .as_array()
            .map(|ids| ids.iter().map(Value::to_string).collect())
            .unwrap_or_default();
        format!(
            "bundle {}: {}",
            value[self.id_field],
            if list.is_empty() { "-".into() } else { list.join(", ") }
        )
    }
}

pub async fn execute(client: &Client, command: LicenseSpringCommand, json: bool) -> Result<String, CliError> {
    match command {
        LicenseSpringCommand::Versions { product } => {
            let value = client.get(&format!("/v1/products/{product}/versions")).await?;
            Ok(show(&value, json))
        }
        LicenseSpringCommand::AddVersion(args) => {
            let AddVersionArgs {
                product,
                version,
                url,
                environment,
                channel,
                release_date,
                md5,
                size,
                eula_link,
                release_notes_link,
                requires_version,
                disabled,
            } = *args;
            let body = json!({
                "version": version,
                "download_url": url,
                "environment": environment,
                "channel": channel,
                "release_date": release_date,
                "hash_md5": md5,
                "size": size,
                "eula_link": eula_link,
                "release_notes_link": release_notes_link,
                "requires_version": requires_version,
                "enabled": !disabled,
            });
            let value = client.post(&format!("/v1/products/{product}/versions"), body).await?;
            Ok(show(&value, json))
        }
        LicenseSpringCommand::BundleProducts { product } => PRODUCT_BUNDLES.list(client, product, json).await,
        LicenseSpringCommand::AddBundleProduct { bundle, member } => {
            PRODUCT_BUNDLES.add(client, bundle, member, json).await
        }
        LicenseSpringCommand::RemoveBundleProduct { bundle, member } => {
            PRODUCT_BUNDLES.remove(client, bundle, member).await?;
            Ok(if json {
                json!({"removed": member}).to_string()
            } else {
                format!("removed product {member} from bundle {bundle}")
            })
        }
        LicenseSpringCommand::BundleLicenses { license } => LICENSE_BUNDLES.list(client, license, json).await,
        LicenseSpringCommand::LinkBundleLicense { bundle, member } => {
            LICENSE_BUNDLES.add(client, bundle, member, json).await
        }
        LicenseSpringCommand::UnlinkBundleLicense { bundle, member } => {
            LICENSE_BUNDLES.remove(client, bundle, member).await?;
            Ok(if json {
                json!({"unlinked": member}).to_string()
            } else {
                format!("unlinked license {member} from bundle license {bundle}")
            })
        }
        LicenseSpringCommand::DeleteVersion { id } => {
            client.delete(&format!("/v1/product-versions/{id}")).await?;
            Ok(if json {
                json!({"deleted": id}).to_string()
            } else {
                format!("deleted product version {id}")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_members_path_and_table_follow_the_resource() {
        assert_eq!(PRODUCT_BUNDLES.path(3), "/v1/products/3/bundle-members");
        assert_eq!(LICENSE_BUNDLES.path(7), "/v1/licenses/7/bundle-members");
        let products = json!({"product_id": 3, "member_product_ids": [4, 5]});
        assert_eq!(PRODUCT_BUNDLES.show(&products, false), "bundle 3: 4, 5");
        let licenses = json!({"license_id": 7, "member_license_ids": []});
        assert_eq!(LICENSE_BUNDLES.show(&licenses, false), "bundle 7: -");
        assert_eq!(LICENSE_BUNDLES.show(&licenses, true), licenses.to_string());
    }
}

//! The admin CLI's commands and their arguments (clap definitions); `cli.rs` runs them.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Products.
    #[command(subcommand)]
    Product(ProductCommand),
    /// Policies (license templates).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Feature definitions.
    #[command(subcommand)]
    Feature(FeatureCommand),
    /// Licenses.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Devices and the device block-list.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Customers.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// License users.
    #[command(subcommand)]
    User(UserCommand),
    /// Client credentials for the dialects.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Admin tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The event log.
    Events(EventsArgs),
    /// Softworkz DNA: IP lockout policy, end-user passwords, license data, InfoTags.
    #[command(subcommand)]
    Dna(crate::cli_dna::DnaCommand),
    /// Key Manager: API keys with capabilities, the access block list, product signing keys.
    #[command(subcommand)]
    Keymanager(crate::cli_keymanager::KeyManagerCommand),
    /// LicenseSpring: product versions and their installation files.
    #[command(subcommand)]
    Licensespring(crate::cli_licensespring::LicenseSpringCommand),
    /// SLASCONE: analytical fields, usage features and modules, reported usage and analytics.
    #[command(subcommand)]
    Slascone(crate::cli_slascone::SlasconeCommand),
    /// Outbound webhook endpoints: URL, subscribed event types, signing secret.
    #[command(subcommand)]
    Webhooks(crate::cli_webhooks::WebhooksCommand),
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// Show rows after this id.
    #[arg(long)]
    pub(crate) after: Option<i64>,
    /// Rows to show (1-1000).
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    Create {
        code: String,
        name: String,
        /// key or user
        #[arg(long, default_value = "key")]
        auth: String,
        #[arg(long)]
        trial_days: Option<i64>,
    },
    List(PageArgs),
    Show {
        id: i64,
    },
    Update {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        /// active, disabled or archived
        #[arg(long)]
        status: Option<String>,
    },
    Delete {
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    Create {
        #[arg(long)]
        product: i64,
        code: String,
        name: String,
        /// Full license terms as JSON (see the API's LicenseTerms).
        #[arg(long)]
        terms: Option<String>,
        #[arg(long)]
        max_activations: Option<i64>,
        #[arg(long)]
        duration_days: Option<i64>,
        #[arg(long)]
        maintenance_days: Option<i64>,
    },
    List {
        #[arg(long)]
        product: Option<i64>,
    },
    Show {
        id: i64,
    },
    Delete {
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeatureCommand {
    Create {
        #[arg(long)]
        product: i64,
        code: String,
        name: String,
        /// activation or consumption
        #[arg(long, default_value = "activation")]
        r#type: String,
        #[arg(long)]
        max_consumptions: Option<i64>,
        #[arg(long)]
        floating_seats: Option<i64>,
    },
    List {
        #[arg(long)]
        product: Option<i64>,
    },
    Delete {
        id: i64,
    },
}

#[derive(Debug, Args)]
pub struct LicenseFieldArgs {
    #[arg(long)]
    pub(crate) product: i64,
    #[arg(long)]
    pub(crate) policy: Option<i64>,
    #[arg(long)]
    pub(crate) customer: Option<i64>,
    /// Full license terms as JSON.
    #[arg(long)]
    pub(crate) terms: Option<String>,
    /// Shortcut for terms.max_activations (other terms stay at their defaults or the policy's).
    #[arg(long)]
    pub(crate) max_activations: Option<i64>,
    /// Expiry as RFC 3339, e.g. 2027-01-01T00:00:00Z.
    #[arg(long)]
    pub(crate) expires: Option<String>,
    #[arg(long)]
    pub(crate) order_ref: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    Create {
        #[command(flatten)]
        fields: LicenseFieldArgs,
        /// The key to issue (generated when absent).
        #[arg(long)]
        key: Option<String>,
    },
    /// Issue many licenses from a key pattern, with a progress bar.
    Bulk {
        #[command(flatten)]
        fields: LicenseFieldArgs,
        #[arg(long)]
        count: usize,
        /// Licenses per request.
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value_t = 4)]
        chunks: u32,
        #[arg(long, default_value_t = 5)]
        chunk_length: u32,
        /// UUID-shaped keys.
        #[arg(long)]
        uuid: bool,
        /// Write the keys here (one per line) instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    List {
        #[arg(long)]
        product: Option<i64>,
        #[arg(long)]
        customer: Option<i64>,
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    Show {
        id: i64,
    },
    Block {
        id: i64,
    },
    Enable {
        id: i64,
    },
    Disable {
        id: i64,
    },
    Delete {
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Devices of a license.
    List {
        license: i64,
    },
    Deactivate {
        id: i64,
    },
    /// Put a fingerprint on the block-list (for one product, or every product).
    Block {
        fingerprint: String,
        #[arg(long)]
        product: Option<i64>,
        #[arg(long)]
        reason: Option<String>,
    },
    Unblock {
        id: i64,
    },
    /// The block-list.
    Blocked {
        #[arg(long)]
        product: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    Create {
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        reference: Option<String>,
    },
    List(PageArgs),
    Show {
        id: i64,
    },
    Delete {
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    Create {
        email: String,
        #[arg(long)]
        customer: Option<i64>,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the LICENSD_USER_PASSWORD environment variable.
        #[arg(long)]
        password_from_env: bool,
    },
    List {
        #[arg(long)]
        customer: Option<i64>,
    },
    /// Assign a user to a license.
    Assign { license: i64, user: i64 },
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    Create {
        /// native, licensespring, keymanager, slascone or dna
        #[arg(long)]
        dialect: String,
        name: String,
        #[arg(long)]
        product: Option<i64>,
        #[arg(long)]
        read_only: bool,
        /// IP address or CIDR range allowed to use it (repeatable).
        #[arg(long = "allow-ip")]
        allow_ip: Vec<String>,
    },
    List {
        #[arg(long)]
        dialect: Option<String>,
    },
    Revoke {
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    Create {
        name: String,
        /// The token reads everything and changes nothing.
        #[arg(long)]
        read_only: bool,
        /// When the token stops working (RFC 3339, e.g. 2027-01-01T00:00:00Z); never by default.
        #[arg(long)]
        expires_at: Option<String>,
        /// IP address or CIDR range allowed to use it (repeatable); any address by default.
        #[arg(long = "ip")]
        ip: Vec<String>,
    },
    List,
    Revoke {
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    List,
    /// Rotate the Ed25519 or RSA key (old public keys stay published).
    Rotate {
        algorithm: String,
    },
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[arg(long)]
    pub(crate) subject_type: Option<String>,
    #[arg(long)]
    pub(crate) subject_id: Option<i64>,
    #[command(flatten)]
    pub(crate) page: PageArgs,
}

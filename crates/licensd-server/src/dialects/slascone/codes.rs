//! SLASCONE's 409 conflicts: every ID of seed 002 with its exact message (plus 12003–12006,
//! which SLASCONE's demos document beyond the seed), and the ONE exhaustive table from the
//! domain's `Denial` to a conflict.

use licensd_domain::Denial;

macro_rules! conflicts {
    ($($name:ident = $id:literal => $message:expr,)+) => {
        /// A SLASCONE business conflict, answered as HTTP 409 `{id, message, help}`.
        // The seed's complete catalogue: IDs licensd cannot produce (see the table in mod.rs) stay
        // listed so the table is checked against the seed in one place.
        #[allow(dead_code)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Conflict { $($name),+ }

        impl Conflict {
            #[cfg(test)]
            pub const ALL: &'static [Conflict] = &[$(Conflict::$name),+];
            pub fn id(self) -> u32 {
                match self { $(Conflict::$name => $id),+ }
            }
            pub fn message(self) -> &'static str {
                match self { $(Conflict::$name => $message),+ }
            }
        }
    };
}

conflicts! {
    InvalidLicenseKey = 1000 => "The input is not a valid license key.",
    LicenseExpired = 1001 => "The license is expired.",
    LicenseNotActivated = 1002 => "The license is not activated.",
    NonCompliantSoftwareVersion = 1003 => "Non compliant software version.",
    UnknownSoftwareReleaseLimitation = 1004 => "Unknown software release limitation. If you want to reset the softwareReleaseLimitation, then use softwareReleaseLimitation= ‘none’ or softwareReleaseLimitation= ”.",
    LegacyKeyExists = 1005 => "A license with this legacy license key already exists.",
    ConnectionsReached = 1007 => "The number of allowed connections has been reached.",
    UserIdExists = 1008 => "A user with this user id already exists.",
    MaxUsersReached = 1009 => "The maximum number of users has been reached.",
    UnknownLicenseUser = 1010 => "Unknown license user.",
    CannotDecreaseUserLimit = 1011 => "Can not decrease the license user limit. You need to delete existing active users.",
    InvalidEmail = 1012 => "Invalid email-address.",
    NoAvailableTokens = 2000 => "This master license has no available tokens. You can either add token(s) to this license or unassign some existing token(s).",
    TokenAlreadyAssigned = 2001 => "Token already assigned.",
    TokenNotAssigned = 2002 => "This token is not assigned.",
    UnknownTokenKey = 2003 => "Unknown token license key.",
    TokenAlreadyUnassigned = 2004 => "This token key is already unassigned.",
    ClientAlreadyActivated = 2005 => "This client is already activated/assigned to this customer.",
    UnknownClient = 2006 => "Unknown client.",
    UnknownLegacyKey = 2007 => "Unknown legacy license key.",
    CannotDecreaseTokens = 2008 => "Can not decrease the number of devices/tokens.",
    UnknownLicenseType = 2009 => "Unknown license type.",
    MissingClientId = 2010 => "Missing unique device/client id.",
    CannotChangeExpirationMode = 2011 => "Can not change the expiration mode to Days After Activation, because a token is already assigned.",
    UnknownProduct = 3000 => "Unknown product.",
    UnknownFeature = 3001 => "Unknown product feature.",
    UnknownVariable = 3002 => "Unknown product variable.",
    UnknownLimitation = 3003 => "Unknown product limitation.",
    UnknownEmailTemplate = 3004 => "Unknown email template.",
    UnknownCustomer = 4000 => "Unknown customer.",
    NoLicensesForCustomer = 4001 => "No available licenses for this customer. Create a new license or add tokens to an existing license.",
    CustomerNumberExists = 4002 => "A customer with this number already exists.",
    CustomerEmailExists = 4003 => "This email is already assigned to another customer.",
    MissingCustomerNumber = 4004 => "Missing customer number.",
    MissingCustomerEmail = 4005 => "Missing customer email.",
    ClientOnOtherToken = 5000 => "This client is assigned to a different token license key. Use the right or no token license key.",
    UnknownAnalyticalFieldLegacy = 5001 => "Unknown analytical field.",
    UnknownAnalyticalField = 6000 => "Unknown analytical field.",
    NumericFieldText = 6001 => "A numerical analytical field can not accept an alphanumerical value.",
    UnknownUsageFeature = 6002 => "Unknown usage feature.",
    AnalyticalFieldRepeated = 6003 => "At least one analytical field appears more than once in the array. Make sure it is used just once.",
    UnknownUsageModule = 6004 => "Unknown usage module.",
    BooleanFieldValue = 6005 => "A boolean field can only accept true or false as a value.",
    UnknownLicenseLimitation = 6006 => "Unknown license limitation.",
    ConsumptionNotPositive = 6007 => "The consumption value must be higher than 0.",
    ConsumptionLimitReached = 6008 => "The consumption limit has been reached.",
    ConsumptionModeDisabled = 6009 => "The consumption mode is disabled.",
    UsageFeatureExists = 6010 => "This usage feature already exists.",
    UsageModuleExists = 6011 => "This usage module already exists.",
    LicenseTypeExists = 6012 => "This license type already exists.",
    TemplateExists = 6013 => "This template/edition already exists.",
    HeartbeatTypeExists = 6014 => "This heartbeat type already exists.",
    AnalyticalFieldExists = 6015 => "This analytical field already exists.",
    LimitationExists = 6016 => "This limitation already exists.",
    VariableExists = 6017 => "This variable already exists.",
    FeatureExists = 6018 => "This feature already exists.",
    LimitationDoesNotExist = 6019 => "This limitation does not exist.",
    ProvisioningModeChange = 6020 => "Changing the template's provisioning mode is not allowed.",
    UiDeployed = 7000 => "UI already deployed.",
    LastTemplate = 8000 => "This template can not be deleted. A product needs to have at least one template.",
    UnknownTemplateName = 8001 => "Unknown template/edition name.",
    EditionModeSwitch = 8002 => "Switching to an edition with a different provisioning mode is not allowed.",
    TemporaryConversion = 8003 => "A non-temporary license cannot be converted to a temporary license, or vice-versa.",
    UnknownCountry = 9000 => "Unknown country.",
    UnknownCustomerType = 9001 => "Unknown customer type.",
    EmptyCompanyName = 9002 => "Company name can not be empty.",
    InvalidExpirationDate = 9003 => "The expiration date is not valid. Supported formats: mm/dd/yyyy, dd.mm.yyyy, yyyy-mm-dd.",
    CustomerTypeExists = 9004 => "This customer type already exists.",
    ProspectNumberExists = 9005 => "A customer with this prospect number already exists.",
    UnknownCustomerLanguage = 9006 => "Unknown customer language.",
    WebhookUrlExists = 10001 => "A webhook with this url already exists.",
    WebhookNameUrlEmpty = 10002 => "Name and url can not be empty.",
    InvalidUrl = 10003 => "Invalid Url format.",
    VendorEmailExists = 11001 => "A user (vendor) with this email already exists.",
    UserRegistered = 11002 => "This user is already registered.",
    SmtpFailed = 11003 => "The SMTP-Client could not be configured.",
    UserRegisteredChangeRole = 11004 => "This user is already registered. You can change the user's role if necessary (if the user does not appear in the user list, check the 'Show all' button at the top of the list).",
    LicenseIsNamed = 12000 => "The provisioning mode of this license is set to Named. Sessions need the provisioning mode to be Floating.",
    NoOpenSession = 12001 => "No open session were found.",
    MaxSessionsSameClient = 12002 => "The maximum number of floating sessions with same client has been reached. Can not open an additional session.",
    CheckoutPeriodNotPositive = 12003 => "The checkout period must be a positive number of minutes.",
    UserIdMandatory = 12004 => "The user id is mandatory for a floating license with client type Users.",
    SessionIdMandatory = 12005 => "The session id is mandatory.",
    UserSessionActive = 12006 => "A session with the same user is already active.",
    UnknownTag = 13001 => "Unknown tag.",
    TagTargetMissing = 13002 => "Invalid data, enter a customerId or a licenseId.",
    TagAssignmentExists = 13003 => "This tag assignment already exists.",
    ResellerExists = 14001 => "This reseller already exists.",
    ResellerContactExists = 14002 => "This reseller contact already exists.",
    ResellerTypeExists = 14003 => "This reseller type already exists.",
}

impl Conflict {
    /// SLASCONE's `help` is a pointer to documentation; licensd has none per conflict.
    pub fn help(self) -> Option<&'static str> {
        None
    }
}

/// The one table from a domain refusal to SLASCONE's conflict. Endpoints where SLASCONE names a
/// refusal differently (closing a session that is not open: 12001; unassigning a token already
/// unassigned: 2004) translate the denial at the call site, documented there.
pub fn denial_conflict(denial: Denial) -> Conflict {
    match denial {
        Denial::LicenseNotFound => Conflict::InvalidLicenseKey,
        Denial::ProductNotFound | Denial::ProductDisabled | Denial::ProductArchived => Conflict::UnknownProduct,
        // SLASCONE has one "not active" state for a license switched off by the vendor.
        Denial::LicenseDisabled
        | Denial::LicenseBlocked
        | Denial::LicenseSuspended
        | Denial::LicenseNotAssigned
        | Denial::LicenseNotStarted => Conflict::LicenseNotActivated,
        Denial::LicenseExpired | Denial::TrialExpired => Conflict::LicenseExpired,
        // Limits on new activations all surface as "no available tokens".
        Denial::ReactivationLockout
        | Denial::ActivationLimitReached
        | Denial::TransferLimitReached
        | Denial::UserActivationLimitReached => Conflict::NoAvailableTokens,
        Denial::IpLockout | Denial::DeviceBlocked | Denial::VmNotAllowed => Conflict::LicenseNotActivated,
        Denial::FingerprintRequired => Conflict::MissingClientId,
        Denial::DeviceNotActivated => Conflict::UnknownClient,
        Denial::LicenseUserNotFound | Denial::InvalidUserCredentials => Conflict::UnknownLicenseUser,
        Denial::LicenseUserLimitReached => Conflict::MaxUsersReached,
        Denial::NotFloating | Denial::FeatureNotFloating => Conflict::LicenseIsNamed,
        Denial::FloatingSeatsExhausted | Denial::FeatureSeatsExhausted => Conflict::ConnectionsReached,
        Denial::BorrowNotAllowed | Denial::BorrowPeriodInvalid => Conflict::CheckoutPeriodNotPositive,
        Denial::NotConsumption | Denial::FeatureNotConsumption => Conflict::ConsumptionModeDisabled,
        Denial::ConsumptionAmountInvalid | Denial::NegativeConsumptionNotAllowed => Conflict::ConsumptionNotPositive,
        Denial::ConsumptionLimitReached | Denial::FeatureConsumptionLimitReached => Conflict::ConsumptionLimitReached,
        Denial::FeatureNotFound | Denial::FeatureExpired => Conflict::UnknownLicenseLimitation,
        Denial::FeatureNotInUse => Conflict::NoOpenSession,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn seed_ids_are_all_present_and_unique() {
        let ids: HashSet<u32> = Conflict::ALL.iter().map(|c| c.id()).collect();
        assert_eq!(ids.len(), Conflict::ALL.len());
        // 86 seed IDs plus 12003–12006.
        assert_eq!(Conflict::ALL.len(), 90);
        assert_eq!(
            Conflict::InvalidLicenseKey.message(),
            "The input is not a valid license key."
        );
        assert_eq!(Conflict::NoOpenSession.id(), 12001);
    }

    #[test]
    fn every_denial_maps() {
        for denial in Denial::ALL {
            assert!(Conflict::ALL.contains(&denial_conflict(denial)));
        }
    }
}

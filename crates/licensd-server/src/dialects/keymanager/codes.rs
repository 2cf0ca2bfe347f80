//! The seed's code table (000_d74f9ec93c7305a7.txt) and the mapping from domain denials to it.
//! Messages are the seed's wire text with an ASCII apostrophe, slips kept verbatim.

use licensd_domain::Denial;

/// The seed's message for `code`; every code this dialect emits is listed here.
pub fn message(code: u16) -> &'static str {
    match code {
        100 => "Invalid API Key",
        101 => "Inactive API Key",
        102 => "The used API key doesn't have the required capability to access this endpoint",
        103 => "API key can't be used from this IP address",
        150 => "Access denied",
        200 => "Valid license key",
        201 => "This license key is not assigned",
        202 => "No activation found for this license key/identifier combination",
        203 => "The product associated with this license key is not active or doesn't exist",
        204 => "License key blocked",
        205 => "License key expired",
        206 => "Envato purchase code added",
        210 => "Invalid license key",
        215 => "Identifier is required",
        300 => "License key activated",
        301 => "License key already active",
        302 => "License key reached activation limit",
        400 => "License key deactivated",
        401 => "License key already inactive",
        500 => "Active license key found",
        600 => "Downloads",
        700 => "The request file doesn't exist",
        701 => "You don't have permission to access it",
        800 => "License key assigned",
        801 => "Invalid or already assigned license key",
        802 => "Insufficient license keys",
        803 => "License keys assigned",
        805 => "Product not found",
        806 => "Generator not found",
        807 => "Request Queued",
        900 => "License keys creation result",
        901 => "Incorrect data found",
        902 => "No license keys created",
        950 => "License keys updated",
        951 => "Incorrect data found",
        952 => "License key not found",
        850 => "License key deleted",
        851 => "License key not found",
        750 => "Product created",
        751 => "Incorrect data found",
        650 => "Product updated",
        651 => "Incorrect data found",
        550 => "Product deleted",
        551 => "Product not found",
        450 | 350 | 250 | 270 | 370 | 480 => "Meta key is required",
        451 | 351 | 271 | 371 => "Meta value is required",
        452 | 272 => "Meta key already exists",
        453 => "Metadata created",
        352 | 251 => "Meta key doesn't exist",
        353 => "Metadata updated",
        252 => "Metadata deleted",
        273 => "Product meta created",
        274 | 374 | 483 => "Product not found",
        372 | 481 => "Meta key doesn't exists",
        373 => "Product meta updated",
        482 => "Product meta deleted",
        810 => "All products",
        820 => "All generators",
        815 => "Generated license keys",
        730 => "License keys",
        830 => "Correct format data saved",
        831 => "Incorrect format data saved",
        970 => "Telemetry data found",
        740 => "Product doesn't exist",
        741 => "Available license keys count",
        825 => "Incorrect data found",
        841 => "contract created",
        842 => "contract updated",
        843 => "contract deleted",
        844 => "Contract not found",
        846 => "All contracts",
        1200 => "Contract not found",
        1202 => "Product not found",
        1203 => "Generator not found",
        1204 => "Contract found",
        1205 => "License keys limit reached",
        1206 => "Cannot generate this quantity",
        1300 => "Contract license keys generated",
        1400 => "License key deleted",
        1401 => "License key not found",
        1500 => "License keys deleted",
        1501 => "No license keys not found",
        // Outside the seed (it has no transport codes): HTTP's own reason phrases.
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        // Unreachable by construction: handlers only pass codes from the table above.
        _ => "Unknown response code",
    }
}

/// Which client command a denial refused; "no activation" reads differently per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Verify,
    Activate,
    Deactivate,
    Details,
}

/// The one exhaustive table from domain denials to Key Manager codes.
pub fn denial_code(denial: Denial, command: Command) -> u16 {
    crate::metrics::note_denial(denial);
    match denial {
        Denial::LicenseNotFound => 210,
        Denial::ProductNotFound | Denial::ProductDisabled | Denial::ProductArchived => 203,
        Denial::LicenseDisabled | Denial::LicenseBlocked | Denial::LicenseSuspended => 204,
        // Key Manager has no start date; a key that does not apply yet is not in the owner's hands.
        Denial::LicenseNotAssigned | Denial::LicenseNotStarted => 201,
        Denial::LicenseExpired | Denial::TrialExpired => 205,
        Denial::FingerprintRequired => 215,
        Denial::DeviceNotActivated => match command {
            Command::Deactivate => 401,
            Command::Verify | Command::Details | Command::Activate => 202,
        },
        // Refusals of where the request comes from are Key Manager's access restrictions.
        Denial::DeviceBlocked | Denial::IpLockout => 150,
        // Every limit on new activations reads as the activation limit to a Key Manager client.
        Denial::ActivationLimitReached
        | Denial::TransferLimitReached
        | Denial::UserActivationLimitReached
        | Denial::ReactivationLockout
        | Denial::VmNotAllowed => 302,
        // Key Manager licenses are key-based, never floating, metered or user-based; a license
        // configured that way natively is not usable through this API, which reads as invalid.
        Denial::LicenseUserNotFound
        | Denial::LicenseUserLimitReached
        | Denial::InvalidUserCredentials
        | Denial::NotFloating
        | Denial::FloatingSeatsExhausted
        | Denial::BorrowNotAllowed
        | Denial::BorrowPeriodInvalid
        | Denial::NotConsumption
        | Denial::ConsumptionAmountInvalid
        | Denial::NegativeConsumptionNotAllowed
        | Denial::ConsumptionLimitReached
        | Denial::FeatureNotFound
        | Denial::FeatureExpired
        | Denial::FeatureNotConsumption
        | Denial::FeatureConsumptionLimitReached
        | Denial::FeatureNotFloating
        | Denial::FeatureSeatsExhausted
        | Denial::FeatureNotInUse => 210,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_denial_maps_to_a_code_with_a_seed_message() {
        for denial in Denial::ALL {
            for command in [
                Command::Verify,
                Command::Activate,
                Command::Deactivate,
                Command::Details,
            ] {
                assert_ne!(
                    message(denial_code(denial, command)),
                    "Unknown response code",
                    "{denial:?}"
                );
            }
        }
        assert_eq!(denial_code(Denial::DeviceNotActivated, Command::Deactivate), 401);
        assert_eq!(denial_code(Denial::DeviceNotActivated, Command::Verify), 202);
    }
}

use licensd_domain::{Denial, Millis};

/// Everything a client call can end with other than success.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused with a licensing denial (signed answer): expired, not activated,
    /// limit reached, …
    #[error("licence refused: {denial:?} ({message})")]
    Denied {
        denial: Denial,
        message: String,
        status: u16,
    },
    /// The server refused the request itself (signed answer), e.g. `invalid_body`.
    #[error("request rejected ({status} {code}): {message}")]
    Rejected { code: String, message: String, status: u16 },
    /// The server could not be reached and no cached answer may stand in for it.
    #[error("licence server unreachable: {0}")]
    Unreachable(String),
    /// The server is unreachable and the last cached validation is older than the offline
    /// grace period.
    #[error("licence server unreachable and the offline grace period ended (last checked at {checked_at} ms)")]
    GraceExpired { checked_at: Millis },
    /// The local clock is behind a time this application already saw: it was set back.
    #[error("the system clock was set back")]
    ClockRolledBack,
    /// The answer carried no signature (so it cannot have come from the licence server).
    #[error("answer is not signed")]
    Unsigned,
    /// The answer was signed by a key that is not pinned.
    #[error("answer signed by an untrusted key ({0})")]
    UntrustedKey(String),
    /// The signature does not match the answer: it was changed on its way.
    #[error("answer signature does not verify")]
    BadSignature,
    /// The answer does not echo this request's nonce: it is a replay of an older answer.
    #[error("answer does not carry this request's nonce")]
    NonceMismatch,
    /// The answer was signed but is not what this call expects.
    #[error("unexpected answer: {0}")]
    UnexpectedAnswer(String),
    /// A licence file was refused.
    #[error(transparent)]
    LicenceFile(#[from] licensd_crypto::LicenceFileError),
    /// Reading or writing the offline cache failed.
    #[error("offline cache: {0}")]
    Cache(String),
    /// The client was configured wrongly (bad URL, bad key, no machine id).
    #[error("configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// The licensing denial behind this error, if it is one.
    pub fn denial(&self) -> Option<Denial> {
        match self {
            Self::Denied { denial, .. } => Some(*denial),
            _ => None,
        }
    }
}

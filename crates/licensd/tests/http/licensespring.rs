//! Black-box tests of the licensespring dialect: none yet (the dialect is not implemented).

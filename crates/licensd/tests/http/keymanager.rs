//! Black-box tests of the keymanager dialect: none yet (the dialect is not implemented).

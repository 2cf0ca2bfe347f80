//! Black-box tests of the slascone dialect: none yet (the dialect is not implemented).

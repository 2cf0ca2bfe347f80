//! Black-box tests of the dna dialect: none yet (the dialect is not implemented).

//! Accounts, password hashing and policy, TOTP second factor.
//!
//! Pure logic: no IO, no clock (times are passed in), no ambient randomness.

mod account;
mod password;
pub mod totp;

pub use account::{mode_from_name, mode_name, role_from_name, role_name, Account};
pub use password::{check_policy, Argon2Params, PasswordHasher, PolicyError, MIN_PASSWORD_CHARS};

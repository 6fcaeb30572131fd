//! Password hashing (argon2id) and the password policy.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Argon2id cost parameters.
///
/// The default is the argon2 crate's recommended production setting
/// (19 MiB, 2 passes, 1 lane). Tests use [`Argon2Params::insecure_fast`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params {
            m_cost: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            p_cost: Params::DEFAULT_P_COST,
        }
    }
}

impl Argon2Params {
    /// The cheapest valid parameters. For tests only: never in production.
    pub fn insecure_fast() -> Self {
        Argon2Params {
            m_cost: 8,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// Refuses costs argon2 cannot use, naming the field, so a relay never
    /// starts with costs that [`PasswordHasher::new`] would replace by the
    /// defaults without a word.
    pub fn validate(&self) -> Result<(), crate::config::InvalidSetting> {
        use crate::config::InvalidSetting;
        let Err(e) = argon(*self) else {
            return Ok(());
        };
        Err(match e {
            argon2::Error::TimeTooSmall => {
                InvalidSetting::out_of_range("t_cost", self.t_cost, "at least 1")
            }
            argon2::Error::ThreadsTooFew | argon2::Error::ThreadsTooMany => {
                InvalidSetting::out_of_range("p_cost", self.p_cost, "between 1 and 16777215")
            }
            _ => InvalidSetting::out_of_range(
                "m_cost",
                self.m_cost,
                format!(
                    "at least 8 KiB per lane (8 × p_cost = {})",
                    8 * u64::from(self.p_cost)
                ),
            ),
        })
    }
}

/// Hashes and verifies passwords with argon2id.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Argon2Params,
    /// A hash of a random password, verified against when the user name is
    /// unknown so that "no such user" takes as long as "wrong password".
    dummy_hash: String,
}

impl PasswordHasher {
    /// A hasher with `params` (invalid params fall back to the defaults).
    pub fn new(params: Argon2Params, rng: &mut dyn RngCore) -> Self {
        let params = if argon(params).is_ok() {
            params
        } else {
            Argon2Params::default()
        };
        let mut hasher = PasswordHasher {
            params,
            dummy_hash: String::new(),
        };
        let mut random = [0u8; 16];
        rng.fill_bytes(&mut random);
        let dummy: String = random.iter().map(|b| format!("{b:02x}")).collect();
        hasher.dummy_hash = hasher.hash(&dummy, rng);
        hasher
    }

    /// A PHC-format hash of `password` with a fresh salt.
    pub fn hash(&self, password: &str, rng: &mut dyn RngCore) -> String {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        // Encoding 16 bytes cannot fail; an empty hash (never verifies) keeps this panic-free.
        let Ok(salt) = SaltString::encode_b64(&salt) else {
            return String::new();
        };
        match argon(self.params) {
            Ok(a) => a
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Whether `password` matches `hash` (constant-time comparison inside argon2).
    /// A malformed stored hash never matches.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        // Verify with the parameters recorded in the hash, so that changing the
        // configured cost does not lock out existing accounts.
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }

    /// Spends the same work as a real verification, for unknown user names.
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(password, &self.dummy_hash);
    }
}

fn argon(p: Argon2Params) -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(p.m_cost, p.t_cost, p.p_cost, None)?,
    ))
}

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Fewer than 8 characters.
    #[error("password must have at least 8 characters")]
    TooShort,
    /// No upper-case letter.
    #[error("password needs an upper-case letter")]
    NoUpper,
    /// No lower-case letter.
    #[error("password needs a lower-case letter")]
    NoLower,
    /// No digit.
    #[error("password needs a digit")]
    NoDigit,
}

/// The password policy: at least 8 characters, with upper case, lower case and a digit.
pub fn check_policy(password: &str) -> Result<(), PolicyError> {
    if password.chars().count() < 8 {
        return Err(PolicyError::TooShort);
    }
    if !password.chars().any(char::is_uppercase) {
        return Err(PolicyError::NoUpper);
    }
    if !password.chars().any(char::is_lowercase) {
        return Err(PolicyError::NoLower);
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(PolicyError::NoDigit);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn policy() {
        assert_eq!(check_policy("Ab1"), Err(PolicyError::TooShort));
        assert_eq!(check_policy("abcdefg1"), Err(PolicyError::NoUpper));
        assert_eq!(check_policy("ABCDEFG1"), Err(PolicyError::NoLower));
        assert_eq!(check_policy("Abcdefgh"), Err(PolicyError::NoDigit));
        assert_eq!(check_policy("Abcdefg1"), Ok(()));
    }

    #[test]
    fn hash_and_verify() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let h = PasswordHasher::new(Argon2Params::insecure_fast(), &mut rng);
        let hash = h.hash("Secret123", &mut rng);
        assert!(hash.starts_with("$argon2id$"));
        assert!(h.verify("Secret123", &hash));
        assert!(!h.verify("Secret124", &hash));
        assert!(!h.verify("Secret123", "not a hash"));
        assert_ne!(hash, h.hash("Secret123", &mut rng), "salted");
    }
}

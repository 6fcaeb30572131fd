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

    /// A hasher for hashing only, without the dummy hash (cheap to make,
    /// for worker threads). Invalid params fall back to the defaults.
    pub(crate) fn with_params(params: Argon2Params) -> Self {
        PasswordHasher {
            params: if argon(params).is_ok() {
                params
            } else {
                Argon2Params::default()
            },
            dummy_hash: String::new(),
        }
    }

    /// A PHC-format hash of `password` with a fresh salt.
    pub fn hash(&self, password: &str, rng: &mut dyn RngCore) -> String {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        self.hash_with_salt(password, salt)
    }

    /// A PHC-format hash of `password` with `salt` (the caller draws the
    /// salt, so hashing can run on a worker thread without a random source).
    pub fn hash_with_salt(&self, password: &str, salt: [u8; 16]) -> String {
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

    /// A hash of a random password with the configured cost: verified
    /// against for unknown user names, so that they cost the same work as
    /// a real account (whose hash is brought to the configured cost at its
    /// next login, see [`PasswordHasher::needs_rehash`]).
    pub fn dummy_hash(&self) -> &str {
        &self.dummy_hash
    }

    /// The configured cost.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Whether `hash` was made with other costs than the configured ones
    /// (so it should be replaced after the next successful verification).
    pub fn needs_rehash(&self, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        (params.m_cost(), params.t_cost(), params.p_cost())
            != (self.params.m_cost, self.params.t_cost, self.params.p_cost)
    }
}

fn argon(p: Argon2Params) -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(p.m_cost, p.t_cost, p.p_cost, None)?,
    ))
}

/// Shortest password the policy accepts, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Only the first this many characters are scored for strength: the
/// estimator's work grows with length, and a password this long that is
/// weak in its first 100 characters is weak.
const SCORED_CHARS: usize = 100;

/// Why a password is refused. `Display` says what is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password is too short: use at least 12 characters, e.g. a few unrelated words")]
    TooShort,
    /// Common, guessable or built from the user's own names.
    #[error(
        "the password is too easy to guess (a common password, a pattern like \"Password123!\", \
         or the user name); use a longer mix, e.g. three or four unrelated words"
    )]
    TooGuessable,
    /// The new password is the old one.
    #[error("the new password is the same as the old one; choose a different password")]
    SameAsOld,
}

/// The password policy: at least [`MIN_PASSWORD_CHARS`] characters, and not
/// guessable (a strength estimate of at least 3 out of 4, which refuses
/// common passwords, keyboard walks, dates, and patterns like "Password1";
/// `user_inputs` are words the password must not lean on, such as the user
/// name and display name).
pub fn check_policy(password: &str, user_inputs: &[&str]) -> Result<(), PolicyError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PolicyError::TooShort);
    }
    let scored: String = password.chars().take(SCORED_CHARS).collect();
    // Each name whole and word by word ("Kenji Mori" → "kenji", "mori"),
    // so "Kenji-Mori-1" is seen as built from the user's own name.
    let words: Vec<String> = user_inputs
        .iter()
        .flat_map(|input| {
            std::iter::once(input.to_lowercase()).chain(
                input
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.chars().count() >= 3)
                    .map(str::to_lowercase),
            )
        })
        .take(32)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    if (zxcvbn::zxcvbn(&scored, &words).score() as u8) < 3 {
        return Err(PolicyError::TooGuessable);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn policy_refuses_short_common_and_patterned_passwords() {
        assert_eq!(check_policy("Ab1", &[]), Err(PolicyError::TooShort));
        assert_eq!(check_policy("Password1", &[]), Err(PolicyError::TooShort));
        for weak in [
            "Password123!",
            "Password1234",
            "qwertyuiop12",
            "aaaaaaaaaaaa",
        ] {
            assert_eq!(
                check_policy(weak, &[]),
                Err(PolicyError::TooGuessable),
                "{weak}"
            );
        }
        assert_eq!(
            check_policy("kenji.mori1980", &["kenji.mori", "Kenji Mori"]),
            Err(PolicyError::TooGuessable)
        );
        assert_eq!(check_policy("violet-kettle-harbor-92", &[]), Ok(()));
        assert!(PolicyError::TooShort
            .to_string()
            .contains("at least 12 characters"));
    }

    #[test]
    fn same_salt_gives_same_hash_and_cost_changes_are_seen() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let h = PasswordHasher::new(Argon2Params::insecure_fast(), &mut rng);
        let a = h.hash_with_salt("violet-kettle-harbor-92", [7; 16]);
        assert_eq!(a, h.hash_with_salt("violet-kettle-harbor-92", [7; 16]));
        assert!(!h.needs_rehash(&a));
        let mut slower = Argon2Params::insecure_fast();
        slower.t_cost = 2;
        let other = PasswordHasher::new(slower, &mut rng);
        assert!(other.needs_rehash(&a));
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

//! The rule that ties session-code settings to the code-guessing limits:
//! codes must be long enough that a guesser with [`GUESSING_SOURCES`]
//! sources stays below a one-in-a-million chance per day of getting into a
//! session. Checked at start ([`RelayConfig::validate`]) and on every admin
//! settings change ([`RelayConfig::check_settings`]).
//!
//! A code has two halves: the `code_length` digits the relay issues (it
//! routes by them) and [`CODE_SECRET_DIGITS`] the operator's program adds,
//! which key the end-to-end key exchange and never reach the relay. An
//! outsider must match both. Matching the routing half only gets a pairing
//! whose key exchange fails, which uses the code up and counts as a wrong
//! code for the customer's source, like a wrong routing half does; so every
//! try, right half or wrong, is one guess the relay evaluated and counted,
//! and the exponent of the rule is `code_length + CODE_SECRET_DIGITS`.

use rsupport_proto::limits::CODE_SECRET_DIGITS;

use crate::config::{InvalidSetting, RelayConfig, Settings, CODE_LENGTH_RANGE, DAY_MS, HOUR_MS};

/// The attacker size the code-length rule is computed for: this many
/// distinct sources (IPv4 addresses or IPv6 /64s).
pub const GUESSING_SOURCES: u32 = 10_000;

impl RelayConfig {
    /// [`Settings::validate`], plus the rule that ties run-time settings to
    /// this file's code limits: codes must be long enough that a guesser
    /// stays below a one-in-a-million chance per day (see
    /// [`RelayConfig::min_code_length`]). The admin API applies this to
    /// every settings change, so an admin cannot shorten codes below it.
    pub fn check_settings(&self, settings: &Settings) -> Result<(), InvalidSetting> {
        settings.validate()?;
        match self.min_code_length() {
            Some(min) if settings.code_length >= min => Ok(()),
            Some(min) => Err(InvalidSetting::out_of_range(
                "code_length",
                settings.code_length,
                format!(
                    "at least {min} with max_live_codes = {}, code_failure_budget = {} and \
                     code_failure_window_ms = {} (lengthen the codes, or lower max_live_codes \
                     or code_failure_budget): a guesser with {GUESSING_SOURCES} addresses must \
                     stay below a one-in-a-million chance per day of matching the {min} + \
                     {CODE_SECRET_DIGITS} digits customers type",
                    self.max_live_codes, self.code_failure_budget, self.code_failure_window_ms
                ),
            )),
            None => Err(InvalidSetting::out_of_range(
                "code_length",
                settings.code_length,
                format!(
                    "longer than {} digits (plus the {CODE_SECRET_DIGITS} secret ones) allow \
                     with max_live_codes = {} and code_failure_budget = {}: lower \
                     max_live_codes or code_failure_budget, or lengthen code_failure_window_ms",
                    CODE_LENGTH_RANGE.end(),
                    self.max_live_codes,
                    self.code_failure_budget
                ),
            )),
        }
    }

    /// The fewest digits the relay may issue (`code_length`) for which a
    /// guesser with [`GUESSING_SOURCES`] addresses has less than a
    /// one-in-a-million chance per day of matching a live code with its
    /// secret digits, or `None` when even [`CODE_LENGTH_RANGE`]'s longest
    /// codes are not enough.
    ///
    /// In one window the relay evaluates at most `code_failure_budget + 1`
    /// wrong codes while the relay-wide count is within the budget, and after
    /// that at most one per source that had no wrong code in the window: at
    /// most `budget + sources` guesses per window. A guess that matches the
    /// routing digits but not the [`CODE_SECRET_DIGITS`] secret ones fails
    /// the key exchange, uses the code up and counts as a wrong code too, so
    /// each guess succeeds against one of at most `max_live_codes` live
    /// codes with probability 10^-(length + secret digits). The rule:
    /// `(budget + sources) × windows per day × max_live_codes × 10^6 ≤
    /// 10^(code_length + CODE_SECRET_DIGITS)`.
    pub fn min_code_length(&self) -> Option<u32> {
        let windows_per_day = DAY_MS.div_ceil(self.code_failure_window_ms.max(1));
        let needed = (u128::from(self.code_failure_budget) + u128::from(GUESSING_SOURCES))
            .saturating_mul(u128::from(windows_per_day))
            .saturating_mul(u128::from(self.max_live_codes))
            .saturating_mul(1_000_000);
        CODE_LENGTH_RANGE
            .clone()
            .find(|&len| 10u128.pow(len + CODE_SECRET_DIGITS as u32) >= needed)
    }

    /// Bounds of the session-code limits (memory and the guessing rule).
    pub(crate) fn validate_code_limits(&self) -> Result<(), InvalidSetting> {
        for (key, value, range) in [
            (
                "code_failures_per_source",
                self.code_failures_per_source.into(),
                1..=20,
            ),
            (
                "code_failure_budget",
                self.code_failure_budget.into(),
                1..=1_000_000,
            ),
            (
                "code_failure_window_ms",
                self.code_failure_window_ms,
                HOUR_MS..=7 * DAY_MS,
            ),
            ("max_live_codes", self.max_live_codes.into(), 1..=100_000),
            (
                "max_codes_per_operator",
                self.max_codes_per_operator.into(),
                1..=u64::from(self.max_live_codes),
            ),
        ] {
            if !range.contains(&value) {
                return Err(InvalidSetting::out_of_range(
                    key,
                    value,
                    format!("between {} and {}", range.start(), range.end()),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(budget: u32, live: u32, window_ms: u64) -> RelayConfig {
        RelayConfig {
            code_failure_budget: budget,
            max_live_codes: live,
            max_codes_per_operator: live.min(5),
            code_failure_window_ms: window_ms,
            ..RelayConfig::default()
        }
    }

    #[test]
    fn the_exponent_counts_the_secret_digits_too() {
        assert_eq!(CODE_SECRET_DIGITS, 5);
        // Defaults: (5,000 + 10,000) x 1 x 50 x 10^6 = 7.5e11 <= 10^(7 + 5),
        // but > 10^(6 + 5).
        assert_eq!(RelayConfig::default().min_code_length(), Some(7));
        assert_eq!(Settings::default().code_length, 7);
        // 15,000 x 1 x 666 x 10^6 ≈ 9.99e12 <= 10^13: 8 issued digits.
        assert_eq!(config(5_000, 666, DAY_MS).min_code_length(), Some(8));
        assert_eq!(config(5_000, 667, DAY_MS).min_code_length(), Some(9));
        // Hourly windows: 24 windows a day, 24 times the guesses.
        assert_eq!(config(5_000, 50, HOUR_MS).min_code_length(), Some(9));
        // A small relay may issue the shortest codes: 10,001 x 1 x 1 x 10^6
        // ≈ 1e10 <= 10^11 = 10^(6 + 5).
        assert_eq!(config(1, 1, DAY_MS).min_code_length(), Some(6));
        // Beyond 11 + 5 digits: no length is enough.
        assert_eq!(config(1_000_000, 100_000, HOUR_MS).min_code_length(), None);
    }

    #[test]
    fn a_refusal_names_the_least_length_and_the_digits_customers_type() {
        let c = RelayConfig::default();
        let mut s = c.settings.clone();
        s.code_length = 6;
        let e = c.check_settings(&s).unwrap_err();
        assert_eq!(e.key, "code_length");
        let text = e.to_string();
        assert!(text.contains("at least 7"), "{text}");
        assert!(text.contains("7 + 5 digits customers type"), "{text}");
        let e = config(1_000_000, 100_000, HOUR_MS)
            .check_settings(&s)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("longer than 11 digits (plus the 5 secret ones)"),
            "{e}"
        );
    }
}

//! The rule that ties session-code settings to the code-guessing limits:
//! codes must be long enough that a guesser with [`GUESSING_SOURCES`]
//! sources stays below a one-in-a-million chance per day of hitting any
//! live code. Checked at start ([`RelayConfig::validate`]) and on every
//! admin settings change ([`RelayConfig::check_settings`]).

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
                     stay below a one-in-a-million chance per day",
                    self.max_live_codes, self.code_failure_budget, self.code_failure_window_ms
                ),
            )),
            None => Err(InvalidSetting::out_of_range(
                "code_length",
                settings.code_length,
                format!(
                    "longer than {} digits allow with max_live_codes = {} and \
                     code_failure_budget = {}: lower max_live_codes or code_failure_budget, or \
                     lengthen code_failure_window_ms",
                    CODE_LENGTH_RANGE.end(),
                    self.max_live_codes,
                    self.code_failure_budget
                ),
            )),
        }
    }

    /// The fewest code digits for which a guesser with
    /// [`GUESSING_SOURCES`] addresses has less than a one-in-a-million
    /// chance per day of hitting any live code, or `None` when even
    /// [`CODE_LENGTH_RANGE`]'s longest codes are not enough.
    ///
    /// In one window the relay evaluates at most `code_failure_budget + 1`
    /// wrong codes while the relay-wide count is within the budget, and after
    /// that at most one per source that had no wrong code in the window: at
    /// most `budget + sources` guesses per window, each hitting one of at
    /// most `max_live_codes` live codes with probability 10^-length. The rule:
    /// `(budget + sources) × windows per day × max_live_codes × 10^6 ≤ 10^length`.
    pub fn min_code_length(&self) -> Option<u32> {
        let windows_per_day = DAY_MS.div_ceil(self.code_failure_window_ms.max(1));
        let needed = (u128::from(self.code_failure_budget) + u128::from(GUESSING_SOURCES))
            .saturating_mul(u128::from(windows_per_day))
            .saturating_mul(u128::from(self.max_live_codes))
            .saturating_mul(1_000_000);
        CODE_LENGTH_RANGE
            .clone()
            .find(|&len| 10u128.pow(len) >= needed)
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

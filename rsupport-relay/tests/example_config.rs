//! `relay.example.toml` stays valid and truthful: it parses, every value in
//! it is the default (as its header says), and it mentions every key the
//! relay reads, so a vendor's admin finds each one there.

use std::collections::BTreeSet;

use rsupport_relay::RelayConfig;

const SAMPLE: &str = include_str!("../relay.example.toml");

#[test]
fn the_sample_parses_validates_and_equals_the_defaults() {
    let parsed = RelayConfig::from_toml(SAMPLE).expect("relay.example.toml parses");
    assert_eq!(
        parsed,
        RelayConfig::default(),
        "every value in the sample is the default"
    );
    parsed.validate().expect("the defaults are valid");
}

#[test]
fn the_sample_mentions_every_key() {
    let mut keys = BTreeSet::new();
    let defaults = toml::Table::try_from(RelayConfig::default()).expect("defaults serialise");
    collect_keys(&defaults, &mut keys);
    // Optional paths have no default value, so serialisation leaves them out.
    keys.extend(["cert", "key", "client_ca", "web_root"].map(String::from));
    for key in keys {
        let mentioned = SAMPLE.lines().any(|line| {
            let line = line.trim_start_matches(['#', ' ']);
            line.starts_with(&format!("{key} = ")) || line == format!("[{key}]")
        });
        assert!(mentioned, "relay.example.toml does not mention `{key}`");
    }
}

fn collect_keys(table: &toml::Table, keys: &mut BTreeSet<String>) {
    for (key, value) in table {
        keys.insert(key.clone());
        if let toml::Value::Table(inner) = value {
            collect_keys(inner, keys);
        }
    }
}

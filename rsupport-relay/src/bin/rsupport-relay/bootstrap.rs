//! `bootstrap`: create the first admin directly in the database, before or
//! while the relay runs. Closed for good once an admin exists, so no set-up
//! path stays open on a running relay.
//!
//! It reads the same configuration as `serve` (`--config`), so it writes the
//! database the relay will use, and hashes the password with the
//! configuration's argon2 costs.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_proto::Role;
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{bootstrap_admin, now_ms, valid_username, BootstrapError};

use crate::config::shown;
use crate::errors::{CliError, Out};
use crate::BootstrapArgs;

/// Creates the first admin.
pub async fn run(args: BootstrapArgs) -> Result<(), CliError> {
    let config = crate::config::load(&args.state, None)?;
    let db = shown(&config.database);
    let username = args.username;
    if !valid_username(&username) {
        return Err(
            CliError::new(format!("the user name {username:?} is not allowed"))
                .hint("use 1 to 64 letters, digits and . _ - @"),
        );
    }
    let mut store = SqliteStore::open(&config.database).map_err(|e| {
        CliError::new(format!("cannot open the database {}: {e}", db.display()))
            .hint("check `database` (or --db) and that you may write the file and its folder")
    })?;
    let admin_exists = store
        .list_accounts()
        .map(|list| list.iter().any(|a| a.role == Role::Admin))
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", db.display())))?;
    if admin_exists {
        return Err(closed(&db));
    }
    let password = crate::prompt::new_password(
        "RSUPPORT_PASSWORD",
        &format!("new password for admin {username}"),
    )
    .await?;
    let mut rng = StdRng::from_os_rng();
    match bootstrap_admin(
        &mut store,
        &username,
        &password,
        config.argon2,
        &mut rng,
        now_ms(),
    ) {
        Ok(_) => {}
        Err(BootstrapError::AdminExists) => return Err(closed(&db)),
        Err(BootstrapError::WeakPassword(e)) => {
            return Err(CliError::new(format!("the password is refused: {e}")))
        }
        Err(e) => {
            return Err(CliError::new(format!(
                "cannot create admin {username} in {}: {e}",
                db.display()
            )))
        }
    }
    let mut out = Out::new();
    out.line(&format!(
        "admin {username} created in {}; bootstrap is now closed",
        db.display()
    ))?;
    out.line("next: start the relay with `rsupport-relay serve` and the same --config (or --db)")
}

fn closed(db: &std::path::Path) -> CliError {
    CliError::new(format!(
        "an admin account already exists in {}; bootstrap is closed",
        db.display()
    ))
    .hint("log in with `rsupport-relay admin --username ADMIN …`; admins create more accounts with `create-account`")
}

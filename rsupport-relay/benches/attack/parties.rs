//! Legitimate users and attackers: dialling from an address in
//! 127.0.0.0/8, logging in, issuing and joining codes, and the tally of what
//! legitimate users saw.

use super::*;

// ------------------------------------------------------- legitimate parties

/// An address in 127.0.0.0/8 for (group, index): attackers and legitimate
/// users never share one.
pub(crate) fn addr(group: u8, index: u32) -> Ipv4Addr {
    let [_, _, hi, lo] = index.to_be_bytes();
    Ipv4Addr::new(127, group, hi, lo.max(1))
}

/// Logs in, retrying while the relay asks to wait (slow-down), within
/// `LEGIT_PATIENCE`. The connection on success.
pub(crate) async fn login(target: &Target, source: Ipv4Addr, username: &str) -> Option<Conn> {
    let deadline = Instant::now() + LEGIT_PATIENCE;
    while Instant::now() < deadline {
        let mut conn = target.hello(source, Role::Operator).await?;
        let status = send_login(&mut conn, username, PASSWORD).await?;
        match status {
            LoginStatus::Ok => return Some(conn),
            LoginStatus::BadCredentials | LoginStatus::Disabled => return None,
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    None
}

/// Waits for the relay's answer: `pick` returns `None` to pass over a
/// message and `Some(answer)` to end the wait. `None` when the connection
/// fails or nothing answers within `REPLY_TIMEOUT`.
pub(crate) async fn await_reply<T>(
    conn: &mut Conn,
    mut pick: impl FnMut(RelayMessage) -> Option<Option<T>>,
) -> Option<T> {
    let reply = tokio::time::timeout(REPLY_TIMEOUT, async {
        loop {
            match conn.recv().await {
                Ok(Incoming::Relay(message)) => {
                    if let Some(answer) = pick(message) {
                        return answer;
                    }
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    });
    reply.await.ok().flatten()
}

pub(crate) async fn send_login(
    conn: &mut Conn,
    username: &str,
    password: &str,
) -> Option<LoginStatus> {
    conn.send(&RelayMessage::Login(Login {
        username: username.into(),
        password: Secret::new(password.into()),
        totp: Secret::default(),
    }))
    .await
    .ok()?;
    await_reply(conn, |m| match m {
        RelayMessage::LoginResult(r) => Some(Some(r.status)),
        _ => None,
    })
    .await
}

pub(crate) async fn issue_code(operator: &mut Conn) -> Option<String> {
    operator
        .send(&RelayMessage::IssueCode { ttl_secs: 0 })
        .await
        .ok()?;
    await_reply(operator, |m| match m {
        RelayMessage::CodeIssued(c) => Some(Some(c.code.into_inner())),
        RelayMessage::RequestResult(r) if r.error.is_some() => Some(None),
        _ => None,
    })
    .await
}

/// What a customer's join ended with.
pub(crate) enum Joined {
    Paired {
        conn: Box<Conn>,
        session_id: u64,
        token: Bytes,
    },
    Refused,
}

pub(crate) async fn join(conn: &mut Conn, code: &str) -> Option<(u64, Bytes)> {
    conn.send(&RelayMessage::JoinByCode {
        code: Secret::new(code.into()),
        customer: CustomerInfo::default(),
    })
    .await
    .ok()?;
    await_reply(conn, |m| match m {
        RelayMessage::Paired(p) => Some(Some((p.session_id, p.resume_token.into_inner()))),
        RelayMessage::JoinRefused { .. } => Some(None),
        _ => None,
    })
    .await
}

/// A customer with a correct, fresh code from a clean address. It sends the
/// code exactly as the relay issued it (the routing digits): these parties
/// run no key exchange, so they have no secret digits to add, and the relay
/// never sees those anyway. Both say protocol 2, so the relay pairs them as
/// an end-to-end encrypted session and only routes.
pub(crate) async fn legit_customer(
    target: &Target,
    operator: &mut Conn,
    source: Ipv4Addr,
) -> Joined {
    let Some(code) = issue_code(operator).await else {
        return Joined::Refused;
    };
    let Some(mut conn) = target.hello(source, Role::Customer).await else {
        return Joined::Refused;
    };
    match join(&mut conn, &code).await {
        Some((session_id, token)) => Joined::Paired {
            conn: Box::new(conn),
            session_id,
            token,
        },
        None => Joined::Refused,
    }
}

/// Tallies legitimate attempts.
#[derive(Default)]
pub(crate) struct Tally {
    ok: usize,
    total: usize,
    slowest: Duration,
    last: Option<Instant>,
}

impl Tally {
    /// Marks the start of the next legitimate attempt.
    pub(crate) fn start(&mut self) {
        self.last = Some(Instant::now());
    }

    pub(crate) fn add(&mut self, ok: bool) {
        self.total += 1;
        self.ok += usize::from(ok);
        if let Some(started) = self.last.take() {
            self.slowest = self.slowest.max(started.elapsed());
        }
    }
}

pub(crate) fn report(
    name: &str,
    legit: &Tally,
    ping: (f64, f64, usize, f64),
    idle: f64,
    peak: f64,
) {
    let grown = peak - idle;
    println!("\n## {name}");
    println!(
        "legitimate success: {}/{} ({:.0}%)  [target 100%: {}]",
        legit.ok,
        legit.total,
        100.0 * legit.ok as f64 / legit.total.max(1) as f64,
        verdict(legit.ok == legit.total)
    );
    println!(
        "slowest legitimate attempt (retries after slow-downs included): {:.2} s",
        legit.slowest.as_secs_f64()
    );
    println!(
        "control-plane Ping during the flood ({:.1} s): p50 {:.1} ms, p99 {:.1} ms over {} pings",
        ping.3, ping.0, ping.1, ping.2
    );
    println!(
        "relay RSS: idle {idle:.0} MiB, peak {peak:.0} MiB, +{grown:.0} MiB  [target ≤ +256 MiB: {}]",
        verdict(grown <= 256.0)
    );
}

pub(crate) fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT MET"
    }
}

/// Digits of `len` (the routing digits a real guesser aims at) that are
/// almost surely no live code: with a few live 7-digit codes, one of the
/// run's ~12,000 guesses hits one about once in 150 runs (it is printed).
pub(crate) fn wrong_code(rng: &mut StdRng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// One attacker address sending `count` wrong codes, one after another.
/// What the relay answered the attackers' wrong codes: looked up and
/// refused as invalid, refused unlooked (rate limited), or no answer.
pub(crate) static GUESSES_LOOKED_UP: AtomicU64 = AtomicU64::new(0);
/// See [`GUESSES_LOOKED_UP`].
pub(crate) static GUESSES_RATE_LIMITED: AtomicU64 = AtomicU64::new(0);
/// See [`GUESSES_LOOKED_UP`].
pub(crate) static GUESSES_UNANSWERED: AtomicU64 = AtomicU64::new(0);

pub(crate) async fn guess_codes(
    target: Arc<Target>,
    source: Ipv4Addr,
    count: usize,
    len: usize,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let Some(mut conn) = target.hello(source, Role::Customer).await else {
        GUESSES_UNANSWERED.fetch_add(count as u64, Ordering::Relaxed);
        return;
    };
    for _ in 0..count {
        let sent = conn
            .send(&RelayMessage::JoinByCode {
                code: Secret::new(wrong_code(&mut rng, len)),
                customer: CustomerInfo::default(),
            })
            .await;
        let answer = await_reply(&mut conn, |m| match m {
            RelayMessage::JoinRefused { reason, .. } => Some(Some(reason)),
            RelayMessage::Paired(_) => {
                println!("  (an attacker guessed a live code from {source})");
                Some(None)
            }
            _ => None,
        });
        let counter = match (sent, answer.await) {
            (Ok(()), Some(JoinRefusal::InvalidCode)) => &GUESSES_LOOKED_UP,
            (Ok(()), Some(JoinRefusal::RateLimited)) => &GUESSES_RATE_LIMITED,
            _ => &GUESSES_UNANSWERED,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Waits for every attacker task; resolves to the moment the last ended.
pub(crate) fn flood_end(
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> tokio::task::JoinHandle<Instant> {
    tokio::spawn(async move {
        for task in tasks {
            let _ = task.await;
        }
        Instant::now()
    })
}

#!/usr/bin/env bash
# Checks the dependency rules of ARCHITECTURE.md with `cargo tree` and the
# sans-IO rule of rsupport-core with a source scan. Exits non-zero and says
# which rule broke when one does.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0

# forbid CRATE PATTERN WHY: `cargo tree -e normal` of CRATE must not list
# any crate whose name matches the extended regex PATTERN.
forbid() {
  local crate=$1 pattern=$2 why=$3 tree found
  # A failing `cargo tree` must fail the check, not pass it with no output.
  tree=$(cargo tree -p "$crate" -e normal --prefix none --locked) || {
    echo "cannot list the dependencies of $crate"; exit 2; }
  found=$(awk '{print $1}' <<<"$tree" | grep -E "^(${pattern})$" | sort -u || true)
  if [[ -n $found ]]; then
    echo "RULE BROKEN: $crate depends on $(echo "$found" | paste -sd, -): $why"
    failed=1
  else
    echo "ok: $crate has none of ${pattern//|/, }"
  fi
}

forbid rsupport-proto 'tokio|rustls|rsupport-capture|rsupport-input|rsupport-core|rsupport-net|rsupport-print|rsupport-client|rsupport-relay' \
  "the wire schema does no IO and depends on no other rsupport crate"
forbid rsupport-core 'tokio|mio|socket2|rustls|rusqlite|x11rb|enigo|xcap|rsupport-net|rsupport-print|rsupport-client|rsupport-relay' \
  "the session is sans-IO (no runtime, no sockets, no TLS), platform-free and knows no driver"
forbid rsupport-net 'rsupport-capture|rsupport-input|rsupport-core|rsupport-print|rsupport-client|rsupport-relay|rusqlite' \
  "the network layer moves frames and knows no session or server"
forbid rsupport-print 'rsupport-client|rsupport-relay|rsupport-net|rusqlite|argon2' \
  "printing backends know no connection and no server"
forbid rsupport-client 'rsupport-relay|rusqlite|libsqlite3-sys|argon2|rcgen|toml' \
  "a customer or operator program builds no relay, SQLite, password hashing or certificate generation"
forbid rsupport-web 'tokio|mio|socket2|rustls|rusqlite|x11rb|enigo|xcap|rsupport-net|rsupport-print|rsupport-client|rsupport-relay' \
  "the browser console runs the sans-IO session in the page: no runtime, sockets, TLS, platform code or server"
forbid rsupport-relay 'rsupport-capture|rsupport-input|rsupport-core|rsupport-client|rsupport-print|rsupport-web|x11rb|enigo|zstd|zstd-sys|image|ab_glyph|dejavu' \
  "the relay forwards what it cannot read: it builds no capture, input, session or codec code"

# rsupport-core: no tokio, std::fs, sockets or clocks outside tests. Test
# modules live in *_tests.rs files or after the first `#[cfg(test)]` line.
scan=$(for f in $(find rsupport-core/src -name '*.rs' ! -name '*_tests.rs'); do
  awk -v f="$f" '/^#\[cfg\(test\)\]/ { exit } /^\s*(\/\/|\*)/ { next }
    /tokio::|std::fs|std::net|Instant::now\(\)|SystemTime::now\(\)/ { print f ":" FNR ": " $0 }' "$f"
done)
if [[ -n $scan ]]; then
  echo "RULE BROKEN: rsupport-core must do no IO and read no clock outside tests:"
  echo "$scan"
  failed=1
else
  echo "ok: rsupport-core has no tokio, std::fs, std::net or clock calls outside tests"
fi

exit $failed

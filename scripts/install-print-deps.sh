#!/usr/bin/env bash
# Installs and starts what the remote-printing tests need on Debian 12:
# a real CUPS scheduler, its command-line clients and the cups-pdf virtual
# printer that stands in for the operator's printer. Safe to run twice.
# Works as root without systemd (CI containers): cupsd is started directly.
set -euo pipefail

packages=(
  cups                    # the scheduler (cupsd), lpadmin, pdftopdf filters
  cups-client             # lp, lpstat, cancel
  cups-bsd                # lpr/lpq, what some applications call to print
  cups-filters            # pdftopdf/pdftops: CUPS converts jobs with them
  printer-driver-cups-pdf # cups-pdf backend: the operator-side "printer" in tests
  ghostscript             # cups-pdf turns PostScript back into PDF with it
  poppler-utils           # pdfinfo: the tests count output pages independently
)

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# cups-pdf writes into ${HOME}/PDF by default; the tests (and anyone reading
# this) find its output in one fixed, documented place instead.
CUPS_PDF_OUT=/var/spool/cups-pdf/out
$SUDO mkdir -p "$CUPS_PDF_OUT"
$SUDO chmod 1777 "$CUPS_PDF_OUT"
if [[ -f /etc/cups/cups-pdf.conf ]]; then
  $SUDO sed -i -E "s|^#?Out .*|Out ${CUPS_PDF_OUT}|" /etc/cups/cups-pdf.conf
  grep -q "^Out ${CUPS_PDF_OUT}\$" /etc/cups/cups-pdf.conf ||
    echo "Out ${CUPS_PDF_OUT}" | $SUDO tee -a /etc/cups/cups-pdf.conf >/dev/null
fi

# Start the scheduler when nothing runs it (no systemd in CI containers).
if ! lpstat -r 2>/dev/null | grep -q "is running"; then
  $SUDO mkdir -p /run/cups
  $SUDO cupsd
fi
for _ in $(seq 1 50); do
  lpstat -r 2>/dev/null | grep -q "is running" && break
  sleep 0.2
done
lpstat -r | grep -q "is running" || { echo "cupsd did not start" >&2; exit 1; }
echo "CUPS is running; cups-pdf output goes to ${CUPS_PDF_OUT}"

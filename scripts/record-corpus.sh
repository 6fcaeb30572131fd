#!/usr/bin/env bash
# Records real screen sequences under a private Xvfb (1920x1080) as folders of PNG
# frames, the corpus the codec benchmarks and examples/encode_corpus read.
#
#   scripts/record-corpus.sh [OUT_DIR]        # default: $CARGO_TARGET_DIR/corpus or target/corpus
#   FRAMES=90 FPS=15 scripts/record-corpus.sh  # longer / denser sequences
#   SEQUENCES="drag video" scripts/record-corpus.sh
#
# Sequences (one folder each, frame-00000.png … plus frames.tsv with DAMAGE rects):
#   typing     shell commands typed into xterm with xdotool, output scrolling by
#   scrolling  a long text paged line by line and page by page in less
#   drag       a window dragged across a generated photo-like wallpaper
#   video      ffplay showing a generated test pattern next to a terminal
#
# Installs what it needs with apt-get (Debian/Ubuntu). The corpus is not committed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${1:-$TARGET/corpus}
FRAMES=${FRAMES:-60}
FPS=${FPS:-10}

# --- tools ------------------------------------------------------------------
need=()
for pair in Xvfb:xvfb xterm:xterm xdotool:xdotool ffplay:ffmpeg less:less fc-list:fontconfig; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
    echo "record-corpus: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

(cd "$ROOT" && cargo build --release -q -p rsupport-capture --example record)
REC="$TARGET/release/examples/record"

# --- one private X server per sequence ----------------------------------------
PIDS=()
XVFB_PID=
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    PIDS=()
    if [ -n "$XVFB_PID" ]; then kill "$XVFB_PID" 2>/dev/null || true; wait "$XVFB_PID" 2>/dev/null || true; fi
    XVFB_PID=
}
trap cleanup EXIT

start_x() {
    local n=140
    while [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
    Xvfb ":$n" -screen 0 1920x1080x24 -nolisten tcp -noreset \
        +extension DAMAGE +extension XFIXES +extension XTEST >/dev/null 2>&1 &
    XVFB_PID=$!
    export DISPLAY=":$n"
    for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$n" ] && return 0; sleep 0.05; done
    echo "record-corpus: Xvfb :$n did not start" >&2
    exit 1
}

bg() { "$@" >/dev/null 2>&1 & PIDS+=($!); }

# Waits for a window of class $1 and prints its id.
window_of() { xdotool search --sync --onlyvisible --class "$1" | head -n1; }

XTERM=(xterm -fa "DejaVu Sans Mono" -fs 11 -bg "#1e1e1e" -fg "#d0d0d0")

record() { # name
    local dir="$OUT/$1"
    rm -rf "$dir"
    "$REC" capture --display "$DISPLAY" --out "$dir" --frames "$FRAMES" --fps "$FPS" &
    RECORDER=$!
}

finish() { wait "$RECORDER"; cleanup; }

# Sleep per step so a script of N steps spans the recording.
step_delay() { awk -v n="$1" -v f="$FRAMES" -v r="$FPS" 'BEGIN { printf "%.3f", f / r / n }'; }

typing() {
start_x
bg "${XTERM[@]}" -geometry 110x40+200+120 -e bash --norc --noprofile
W=$(window_of xterm)
xdotool windowfocus --sync "$W"
sleep 0.5
record typing
for cmd in "echo 'remote support session: typing test'" "uname -a" "ls -l /usr/share/doc | head -25" \
    "cat /etc/os-release" "seq 1 12 | paste -sd+ | bc" "ls /usr/bin | head -60 | column -c 100"; do
    xdotool type --delay 45 "$cmd"
    xdotool key Return
    sleep 0.4
done
finish
}

scrolling() {
start_x
TEXT=/usr/share/common-licenses/GPL-3
bg "${XTERM[@]}" -geometry 120x55+150+40 -e less "$TEXT"
W=$(window_of xterm)
xdotool windowfocus --sync "$W"
sleep 0.5
record scrolling
D=$(step_delay 60)
for i in $(seq 60); do
    if [ $((i % 10)) -eq 0 ]; then xdotool key space; else xdotool key Down; fi
    sleep "$D"
done
finish
}

drag() {
start_x
"$REC" wallpaper --display "$DISPLAY" --seed 7
bg "${XTERM[@]}" -geometry 80x24+100+100 -hold -e sh -c 'ls -l /usr/share/doc | head -30'
W=$(window_of xterm)
sleep 0.5
record drag
STEPS=$((FRAMES * 3))
D=$(step_delay "$STEPS")
for i in $(seq 0 $((STEPS - 1))); do
    # A loop around the screen, the way a hand drags: uneven speed.
    read -r X Y < <(awk -v i="$i" -v n="$STEPS" 'BEGIN { t = 6.2832 * i / n; printf "%d %d\n", 760 + 600 * cos(t) + 40 * sin(3 * t), 400 + 280 * sin(t) }')
    xdotool windowmove "$W" "$X" "$Y"
    sleep "$D"
done
finish
}

video() {
start_x
bg "${XTERM[@]}" -geometry 70x30+60+80 -hold -e sh -c 'cat /etc/services | head -40'
export SDL_VIDEODRIVER=x11 SDL_AUDIODRIVER=dummy
bg ffplay -loglevel error -an -noborder -left 760 -top 240 -x 960 -y 540 \
    -f lavfi "testsrc2=size=960x540:rate=25"
window_of ffplay >/dev/null || true
sleep 1
record video
finish
}

for seq in ${SEQUENCES:-typing scrolling drag video}; do
    echo "record-corpus: $seq"
    "$seq"
done

echo "record-corpus: sequences in $OUT:"
for d in "$OUT"/*/; do echo "  $d ($(ls "$d" | grep -c '\.png$') frames)"; done

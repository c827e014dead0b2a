#!/usr/bin/env bash
# Installs what edgesight needs on Debian 12 / Raspberry Pi OS (Bookworm) and builds it.
# Idempotent: each step is skipped when its result is already there.
#   scripts/setup.sh          runtime: OpenCV dev files, build tools, npm packages, compiled JS
#   scripts/setup.sh --train  also Debian's PyTorch, which `edgesight train` runs its steps on (else TF.js WASM)
#   scripts/setup.sh --test   also what the test suite needs (ffmpeg, Debian's chromium for the browser test, PyTorch)
#   scripts/setup.sh --bench  also what `npm run bench` compares against (Debian's Python with OpenCV and PyTorch, sysbench)
set -euo pipefail
cd "$(dirname "$0")/.."

want_train=0
want_test=0
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --train) want_train=1 ;;
    --test) want_test=1 ;;
    --bench) want_bench=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (allowed: --train, --test, --bench)" >&2; exit 2 ;;
  esac
done

# libopencv-dev brings the headers and every OpenCV module the native binding links against
# (videoio with V4L2, GStreamer and FFmpeg backends). gstreamer1.0-plugins-base has appsink and
# videoconvert, which every GStreamer source pipeline ends in. fswebcam backs the webcam source.
packages=(libopencv-dev pkg-config build-essential python3 gstreamer1.0-plugins-base fswebcam)
# A workstation that trains: python3-torch gives `edgesight train` native kernels and every core.
if [ "$want_train" = 1 ]; then packages+=(python3-torch); fi
if [ "$want_test" = 1 ]; then packages+=(ffmpeg chromium fonts-dejavu-core systemd mosquitto mosquitto-clients python3-torch); fi
# The benchmark's reference loop (bench/reference/) runs on Debian's own Python packages.
if [ "$want_bench" = 1 ]; then packages+=(python3-opencv python3-torch sysbench util-linux); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci rebuilds the OpenCV binding (several minutes on a Pi); skip it when the lock file
# has not changed since the last successful install.
stamp=node_modules/.edgesight-lock-hash
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "setup: npm ci (builds the OpenCV binding against the system OpenCV; takes a few minutes)"
  # The binding must link the system OpenCV, never download and build its own.
  OPENCV4NODEJS_DISABLE_AUTOBUILD=1 JOBS=max npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi

npm run --silent build
echo "setup: done"

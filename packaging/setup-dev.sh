#!/usr/bin/env bash
# Installs what Parley needs on Debian/Ubuntu: system libraries (PortAudio, Qt's X11 libraries), the services the
# tests run for real (PulseAudio, gnome-keyring, D-Bus, Xvfb, espeak-ng), then a venv in .venv with Parley, its
# offline voice engine and its test tools. Safe to run again. Works as root or, for a normal user, with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  python3 python3-venv python3-pip
  libportaudio2 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libfontconfig1
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-image0
  libxcb-render-util0
  pulseaudio pulseaudio-utils espeak-ng sox xvfb xauth xdotool gnome-keyring dbus dbus-x11 libsecret-tools
  desktop-file-utils appstream
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,offline,package]'
echo "Parley is installed in .venv: run .venv/bin/parley (needs a display) or .venv/bin/python -m pytest"

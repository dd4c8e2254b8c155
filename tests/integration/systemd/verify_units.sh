#!/usr/bin/env bash
# systemd-analyze verify on the unit files, offline (no systemd as PID 1
# needed): units/ as system units, units/user/ as user units. Any output
# (an unknown key is only a warning, exit 0) fails the check.
#   verify_units.sh UNITS_DIR [XPCD]   XPCD replaces /usr/sbin/xpcd, so the
#                                      units can be checked before install
set -euo pipefail
units=$1
xpcd=${2:-/usr/sbin/xpcd}
tmp=$(mktemp -d /tmp/xpcd-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/system" "$tmp/user" "$tmp/runtime"
chmod 700 "$tmp/runtime"
for f in "$units"/*.service "$units"/*.socket; do sed "s|/usr/sbin/xpcd|$xpcd|" "$f" >"$tmp/system/$(basename "$f")"; done
for f in "$units"/user/*.service "$units"/user/*.socket; do sed "s|/usr/sbin/xpcd|$xpcd|" "$f" >"$tmp/user/$(basename "$f")"; done
out=$(systemd-analyze verify --man=no "$tmp"/system/* 2>&1) || { echo "$out"; exit 1; }
uout=$(XDG_RUNTIME_DIR=$tmp/runtime systemd-analyze verify --user --man=no "$tmp"/user/* 2>&1) || { echo "$uout"; exit 1; }
if [ -n "$out$uout" ]; then echo "$out$uout"; exit 1; fi
echo "verified: $(cd "$tmp" && echo system/* user/*)"

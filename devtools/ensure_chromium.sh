#!/usr/bin/env bash
# The browser tests use Debian's Chromium (never a downloaded browser). Install it when missing
# and we are root on a Debian-like machine; otherwise say so (the browser tests then fail loudly).
set -u
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }
fi
command -v chromium >/dev/null 2>&1 || echo "WARNING: chromium not found; install Debian's 'chromium' package" >&2
exit 0

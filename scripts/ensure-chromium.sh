#!/usr/bin/env bash
# The browser tests drive Debian's Chromium with playwright-core; a browser is never
# downloaded by a tool. Installs the Debian package when it is missing and we may.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-chromium: /usr/bin/chromium is missing; install Debian's chromium package (apt-get install chromium)." >&2
  exit 1
fi

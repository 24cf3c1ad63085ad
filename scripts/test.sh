#!/usr/bin/env bash
# Every test, on SQLite and on PostgreSQL. Starts (or installs) what the tests need:
# PostgreSQL, Debian's OpenSSH server for the SFTP tests and Debian's Chromium for the
# browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_DATABASE_URL=$(bash scripts/ensure-postgres.sh)
export TEST_DATABASE_URL
bash scripts/ensure-sshd.sh
bash scripts/ensure-chromium.sh

echo "== type check" >&2
npx tsc -p tsconfig.json --noEmit
npx tsc -p web/tsconfig.json --noEmit
echo "== build (the command-line and browser tests run the built program and web app)" >&2
npm run build --silent
npm run build:web --silent
echo "== tests" >&2
npx vitest run "$@"

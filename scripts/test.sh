#!/usr/bin/env bash
# Every test, on SQLite and on PostgreSQL. Starts (or installs) what the tests need:
# PostgreSQL, and Debian's OpenSSH server for the SFTP tests.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_DATABASE_URL=$(bash scripts/ensure-postgres.sh)
export TEST_DATABASE_URL
bash scripts/ensure-sshd.sh

echo "== type check" >&2
npx tsc -p tsconfig.json --noEmit
echo "== build (the command-line tests run the built program)" >&2
npm run build --silent
echo "== tests" >&2
npx vitest run "$@"

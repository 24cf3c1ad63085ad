#!/usr/bin/env bash
# Makes sure Debian's OpenSSH server is installed for the SFTP tests, which start their own
# /usr/sbin/sshd on a loopback port as root (test/support/sshd.ts). Installs openssh-server
# from Debian's packages when it is missing and this user may, without starting the system
# ssh service. Otherwise it stops and says what is missing: the tests never skip SFTP silently.
set -euo pipefail

sshd=/usr/sbin/sshd

if [ ! -x "$sshd" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-sshd: installing openssh-server from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    # The tests start their own sshd; keep the package from starting a system one on port 22.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod 755 "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    if ! apt-get install -y -qq openssh-server >/dev/null; then
      apt-get update -qq >/dev/null
      apt-get install -y -qq openssh-server >/dev/null
    fi
  else
    echo "ensure-sshd: Debian's OpenSSH server ($sshd) is not installed, and this user cannot install it. Run as root with apt-get, or install it: apt-get install openssh-server" >&2
    exit 1
  fi
fi

missing=()
for tool in ssh-keygen useradd chpasswd getent; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "ensure-sshd: the SFTP tests also need: ${missing[*]} (packages openssh-client, passwd, libc-bin)" >&2
  exit 1
fi

# sshd will not start without its privilege-separation directory, which only the ssh service creates.
if [ ! -d /run/sshd ]; then
  if [ "$(id -u)" = 0 ]; then
    mkdir -p /run/sshd
    chmod 755 /run/sshd
  else
    echo "ensure-sshd: /run/sshd (sshd's privilege-separation directory) is missing and only root can create it" >&2
    exit 1
  fi
fi

if [ "$(id -u)" != 0 ]; then
  echo "ensure-sshd: the SFTP tests start sshd and create a test user, so they must run as root" >&2
  exit 1
fi

#!/usr/bin/env bash
# apt-install.sh installs Debian packages for the test scripts, waiting (bounded) for the dpkg and
# apt lists locks when another apt-get or dpkg holds them, instead of failing at once.
#
#   scripts/apt-install.sh PACKAGE...
#
# It runs as root, or through sudo when not root. APT_LOCK_WAIT (seconds, default 600) bounds the
# wait for each lock. The package lists are refreshed once per call, before installing. Exit status:
# apt-get's, or 1 when a lock stayed busy for the whole wait.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
wait_s=${APT_LOCK_WAIT:-600}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# apt and dpkg take fcntl locks, so flock(1) cannot wait for them; apt-get itself can
# (DPkg::Lock::Timeout), and a retry covers the lists lock of 'apt-get update' on older apt.
apt() {
	local deadline=$((SECONDS + wait_s)) out
	while :; do
		if out=$(DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout="$wait_s" "$@" 2>&1); then
			return 0
		fi
		if grep -qiE 'could not get lock|unable to lock|is another process using it' <<<"$out" && [ $SECONDS -lt $deadline ]; then
			echo "apt-install.sh: apt is busy (another apt-get or dpkg); waiting" >&2
			sleep 5
			continue
		fi
		echo "$out" >&2
		return 1
	done
}

apt update -qq
apt install -y -qq "$@"

#!/usr/bin/env bash
# samba-dc.sh: a throwaway Samba Active Directory domain controller on loopback, for the
# integration tests of directory/ldapdir.
#
#   scripts/samba-dc.sh start [DIR]   provision EXAMPLE.TEST into DIR (default: a new dir on tmpfs),
#                                     start samba on ADDR:389/636, wait for LDAPS, and print
#                                     DIR/env (shell assignments, also read by the Go tests)
#   scripts/samba-dc.sh stop DIR      stop samba by its pid and remove DIR
#   scripts/samba-dc.sh install       apt-get install the Debian packages (samba ldb-tools ldap-utils)
#
# The domain's TLS certificate is made here (samba's own has no subjectAltName, which Go rejects):
# a CA in DIR/private/tls/ca.pem and a server certificate for localhost, 127.0.0.1 and
# dc1.example.test. Exit status 3 means samba is not installed.
#
# Samba's LDAP ports are fixed (389, 636), so two domain controllers on one machine are kept apart
# by address: samba binds only OPA_SAMBA_ADDR, a loopback address, default a free one picked at
# random in 127.1.0.0/16 (Linux answers on all of 127.0.0.0/8). The env file gives the URLs.
#
# OPA_SAMBA_USERS=N adds N users bulk00000… to OU=Bulk before samba starts, in one sam.ldb
# transaction through samba's Python bindings (LDAP adds cost ~0.1 s each on disk, this ~10 ms).
set -euo pipefail

REALM=EXAMPLE.TEST
DOMAIN=EXAMPLE
BASE_DN="DC=example,DC=test"
ADMIN_PASS=${OPA_SAMBA_ADMIN_PASSWORD:-Opa-Adm1n-Passw0rd}

die() { echo "samba-dc.sh: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# addr_free reports whether none of the ports samba serves here is taken on address $1.
addr_free() {
	local p
	for p in 88 135 389 636; do
		port_open "$1" "$p" && return 1
	done
	return 0
}

# pick_addr prints OPA_SAMBA_ADDR, or a free random loopback address in 127.1.0.0/16.
pick_addr() {
	if [ -n "${OPA_SAMBA_ADDR:-}" ]; then
		[[ $OPA_SAMBA_ADDR =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "OPA_SAMBA_ADDR=$OPA_SAMBA_ADDR is not a 127.x.y.z address"
		addr_free "$OPA_SAMBA_ADDR" || die "$OPA_SAMBA_ADDR: a port samba needs (88, 135, 389, 636) is in use (another samba?)"
		echo "$OPA_SAMBA_ADDR"
		return
	fi
	local a
	for _ in $(seq 1 20); do
		a="127.1.$((RANDOM % 256)).$((RANDOM % 254 + 1))"
		addr_free "$a" && { echo "$a"; return; }
	done
	die "no free loopback address found in 127.1.0.0/16"
}

start() {
	local dir=${1:-}
	for c in samba samba-tool openssl; do
		command -v "$c" >/dev/null || { echo "samba-dc.sh: $c not found; run 'scripts/samba-dc.sh install' (Debian: samba ldb-tools ldap-utils)" >&2; exit 3; }
	done
	local addr
	addr=$(pick_addr)
	local tmp=/tmp
	[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm # sam.ldb commits are fsync-bound
	if [ -z "$dir" ]; then dir=$(mktemp -d "$tmp/opa-samba.XXXXXX"); else mkdir -p "$dir"; fi
	dir=$(cd "$dir" && pwd)

	local t0=$SECONDS
	samba-tool domain provision --targetdir="$dir" --realm="$REALM" --domain="$DOMAIN" \
		--server-role=dc --dns-backend=NONE --adminpass="$ADMIN_PASS" \
		--option="interfaces=$addr/8" --option="bind interfaces only=yes" >"$dir/provision.log" 2>&1 ||
		{ tail -20 "$dir/provision.log" >&2; die "provision failed (log: $dir/provision.log)"; }

	# TLS: our own CA and a certificate with subjectAltNames.
	local tls="$dir/private/tls"
	mkdir -p "$tls"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=opa test CA" -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=dc1.example.test" -keyout "$tls/key.pem" -out "$tls/req.pem" 2>/dev/null
	printf 'subjectAltName=DNS:dc1.example.test,DNS:localhost,IP:%s,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' "$addr" >"$tls/ext.cnf"
	openssl x509 -req -in "$tls/req.pem" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial \
		-days 2 -extfile "$tls/ext.cnf" -out "$tls/cert.pem" 2>/dev/null
	chmod 600 "$tls/key.pem"

	# winbindd is not installed and samba exits without this; keep every file inside DIR.
	local conf="$dir/etc/smb.conf"
	sed -i -e 's/^\tserver services = .*/\tserver services = ldap, cldap, kdc, rpc/' \
		-e '/^\tlog file = /d' "$conf"
	mkdir -p "$dir/run" "$dir/ncalrpc"
	sed -i -e "/^\[global\]/a\\
\tlog file = $dir/log.%m\\
\tpid directory = $dir/run\\
\tncalrpc dir = $dir/ncalrpc\\
\ttls enabled = yes\\
\ttls keyfile = $tls/key.pem\\
\ttls certfile = $tls/cert.pem\\
\ttls cafile = $tls/ca.pem" "$conf"

	if [ "${OPA_SAMBA_USERS:-0}" -gt 0 ]; then
		/usr/bin/python3 - "$conf" "$dir/private/sam.ldb" "$OPA_SAMBA_USERS" <<'PY' || die "bulk users failed"
import sys, time
from samba.samdb import SamDB
from samba.auth import system_session
from samba.param import LoadParm
conf, sam, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lp = LoadParm(); lp.load(conf)
db = SamDB(url=sam, session_info=system_session(), lp=lp)
base = str(db.domain_dn()); realm = lp.get("realm").lower()
t = time.time()
db.transaction_start()
db.add({"dn": "OU=Bulk," + base, "objectClass": "organizationalUnit"})
for i in range(n):
    name = "bulk%05d" % i
    db.add({"dn": "CN=%s,OU=Bulk,%s" % (name, base), "objectClass": "user",
            "sAMAccountName": name, "userPrincipalName": name + "@" + realm})
db.transaction_commit()
print("samba-dc.sh: added %d users to OU=Bulk in %.1fs" % (n, time.time() - t), file=sys.stderr)
PY
	fi

	samba -s "$conf" -i -M single </dev/null >"$dir/samba.log" 2>&1 &
	echo $! >"$dir/samba.pid"
	local i
	for i in $(seq 1 300); do
		port_open "$addr" 636 && break
		kill -0 "$(cat "$dir/samba.pid")" 2>/dev/null || { tail -20 "$dir/samba.log" >&2; die "samba exited (log: $dir/samba.log)"; }
		sleep 0.1
	done
	port_open "$addr" 636 || die "samba did not listen on $addr:636 within 30s (log: $dir/samba.log)"

	cat >"$dir/env" <<EOF
OPA_SAMBA_DIR=$dir
OPA_SAMBA_ADDR=$addr
OPA_SAMBA_URL=ldaps://$addr:636
OPA_SAMBA_STARTTLS_URL=ldap://$addr:389
OPA_SAMBA_CA=$tls/ca.pem
OPA_SAMBA_ADMIN=Administrator@example.test
OPA_SAMBA_ADMIN_PASSWORD=$ADMIN_PASS
OPA_SAMBA_BASE_DN=$BASE_DN
OPA_SAMBA_DOMAIN=example.test
OPA_SAMBA_SAM=$dir/private/sam.ldb
OPA_SAMBA_SMBCONF=$conf
EOF
	echo "samba-dc.sh: EXAMPLE.TEST up on $addr in $((SECONDS - t0))s, pid $(cat "$dir/samba.pid"), env in $dir/env" >&2
	cat "$dir/env"
}

stop() {
	local dir=${1:?usage: samba-dc.sh stop DIR}
	[ -f "$dir/env" ] || [ -f "$dir/samba.pid" ] || die "$dir does not look like a samba-dc.sh directory"
	if [ -f "$dir/samba.pid" ]; then
		local pid
		pid=$(cat "$dir/samba.pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid"
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
		fi
	fi
	rm -rf "$dir"
}

case ${1:-} in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
install) "$(dirname "$0")/apt-install.sh" samba ldb-tools ldap-utils ;;
*) echo "usage: $0 start [DIR] | stop DIR | install" >&2; exit 2 ;;
esac

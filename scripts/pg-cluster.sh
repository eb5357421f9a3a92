#!/usr/bin/env bash
# pg-cluster.sh: a throwaway PostgreSQL cluster on loopback, for the tests and benchmarks of
# storage/pgstore.
#
#   scripts/pg-cluster.sh start [DIR]     initdb into DIR (default: a new dir on tmpfs), start the
#                                         server on a free 127.0.0.1 port with its unix socket in
#                                         DIR/sock, create the database "opa", and print DIR/env
#                                         (shell assignments, also read by the Go tests)
#   scripts/pg-cluster.sh restart DIR [MODE]  pg_ctl restart (MODE: fast, the default, or immediate)
#   scripts/pg-cluster.sh stop DIR        stop the server and remove DIR
#   scripts/pg-cluster.sh install         install the Debian package postgresql-15 (apt-install.sh)
#
# The cluster trusts local connections (it lives for one test run and listens on loopback only);
# its superuser is "opa". initdb refuses to run as root, so as root the cluster belongs to the
# unprivileged user "postgres" (made by the Debian package; OPA_PG_USER overrides) and every server
# command runs through runuser. OPA_PG_BIN overrides the directory of initdb and pg_ctl; OPA_PG_TMP
# the parent of DIR (tmpfs makes fsync nearly free: set it to a disk directory to measure one).
# OPA_PG_OWNER names the process the cluster belongs to (the Go tests pass their pid): a later
# start removes the clusters whose owner has exited without stopping them. Exit status 3 means
# PostgreSQL is not installed.
set -euo pipefail

die() { echo "pg-cluster.sh: $*" >&2; exit 1; }

pg_bin() {
	if [ -n "${OPA_PG_BIN:-}" ]; then echo "$OPA_PG_BIN"; return; fi
	local d
	for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
	done
	return 1
}

# as runs a command as the cluster's owner.
as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "${OPA_PG_USER:-postgres}" -- "$@"
	else
		"$@"
	fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	local dir=${1:-} bin
	bin=$(pg_bin) || { echo "pg-cluster.sh: PostgreSQL not found; run 'scripts/pg-cluster.sh install' (Debian: postgresql-15)" >&2; exit 3; }
	if [ "$(id -u)" -eq 0 ]; then
		id -u "${OPA_PG_USER:-postgres}" >/dev/null 2>&1 || die "user ${OPA_PG_USER:-postgres} does not exist (initdb refuses root)"
	fi
	local tmp=${OPA_PG_TMP:-}
	if [ -z "$tmp" ]; then
		tmp=/tmp
		[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
	fi
	sweep "$tmp"
	if [ -z "$dir" ]; then dir=$(mktemp -d "$tmp/opa-pg.XXXXXX"); else mkdir -p "$dir"; fi
	dir=$(cd "$dir" && pwd)
	mkdir -p "$dir/sock"
	[ -n "${OPA_PG_OWNER:-}" ] && echo "$OPA_PG_OWNER" >"$dir/owner"
	[ "$(id -u)" -eq 0 ] && chown -R "${OPA_PG_USER:-postgres}" "$dir"

	local t0=$SECONDS
	as "$bin/initdb" -D "$dir/data" -U opa --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ tail -20 "$dir/initdb.log" >&2; die "initdb failed (log: $dir/initdb.log)"; }
	cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
max_connections = 200
shared_buffers = 64MB
log_min_messages = warning
EOF

	# A port that is free now may be taken before the server binds it: try a few.
	local port try ok=""
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 40000))
		port_open "$port" && continue
		if as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
			ok=1
			break
		fi
	done
	[ -n "$ok" ] || { tail -20 "$dir/server.log" >&2 || true; die "the server did not start (log: $dir/server.log)"; }
	echo "$port" >"$dir/port"
	as "$bin/psql" -h "$dir/sock" -p "$port" -U opa -d postgres -qAt -c "CREATE DATABASE opa" >/dev/null ||
		die "CREATE DATABASE failed"

	cat >"$dir/env" <<EOF
OPA_POSTGRES_DIR=$dir
OPA_POSTGRES_DSN=postgres://opa@127.0.0.1:$port/opa?sslmode=disable
OPA_POSTGRES_ADMIN_DSN=postgres://opa@127.0.0.1:$port/postgres?sslmode=disable
OPA_POSTGRES_BIN=$bin
EOF
	echo "pg-cluster.sh: PostgreSQL $("$bin/postgres" -V | awk "{print \$3}") up on 127.0.0.1:$port in $((SECONDS - t0))s, env in $dir/env" >&2
	cat "$dir/env"
}

# sweep stops and removes the clusters under $1 whose owner process (OPA_PG_OWNER when they were
# started: a test binary) has exited without stopping them, as a test binary killed by its
# timeout does.
sweep() {
	local d pid
	for d in "$1"/opa-pg.*; do
		[ -f "$d/owner" ] || continue
		pid=$(cat "$d/owner")
		kill -0 "$pid" 2>/dev/null && continue
		echo "pg-cluster.sh: removing $d, left by process $pid" >&2
		stop "$d"
	done
}

check_dir() {
	[ -f "$1/env" ] || [ -d "$1/data" ] || die "$1 does not look like a pg-cluster.sh directory"
}

restart() {
	local dir=${1:?usage: pg-cluster.sh restart DIR [fast|immediate]} mode=${2:-fast} bin
	check_dir "$dir"
	bin=$(pg_bin) || die "PostgreSQL not found"
	as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $(cat "$dir/port")" -m "$mode" -w -t 60 restart >/dev/null
}

stop() {
	local dir=${1:?usage: pg-cluster.sh stop DIR} bin
	check_dir "$dir"
	if [ -f "$dir/data/postmaster.pid" ] && bin=$(pg_bin); then
		as "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

case ${1:-} in
start) start "${2:-}" ;;
restart) restart "${2:-}" "${3:-fast}" ;;
stop) stop "${2:-}" ;;
install) "$(dirname "$0")/apt-install.sh" postgresql-15 ;;
*) echo "usage: $0 start [DIR] | restart DIR [fast|immediate] | stop DIR | install" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for the PostgreSQL store's tests (docs/postgresql.md).
#
#   scripts/pg-cluster.sh start [DIR]   initdb in DIR (default /tmp/qbsyncd-pg), start it on a free
#                                       port of 127.0.0.1 and a Unix socket in DIR/socket, create
#                                       the role and database `qbsyncd`, print
#                                       QBSYNCD_TEST_DATABASE_URL=postgres://...
#   scripts/pg-cluster.sh stop [DIR]    stop it and remove DIR
#   scripts/pg-cluster.sh url [DIR]     print the URL of a running one again
#   scripts/pg-cluster.sh stop-server [DIR]   stop its server (fast shutdown), keeping DIR and its data
#   scripts/pg-cluster.sh start-server [DIR]  start the server again on the same data, port and socket
#   scripts/pg-cluster.sh restart [DIR]       stop-server, then start-server
#                                       (the last three: a database outage under load, for tests)
#
# It never touches the machine's own clusters: its data, port, socket and log are all in DIR, and
# `stop` acts only on a DIR this script made (it holds the marker file `qbsyncd-pg-cluster`).
# As root the server runs as the `postgres` user (PostgreSQL refuses root); otherwise as you.
set -euo pipefail

command="${1:-}"
dir="${2:-${TMPDIR:-/tmp}/qbsyncd-pg}"
marker="qbsyncd-pg-cluster"

die() { echo "pg-cluster: $*" >&2; exit 1; }

# PostgreSQL 15's server binaries; installs the Debian package when they are missing (CI runs
# on a fresh machine).
find_bindir() {
  local candidate
  for candidate in /usr/lib/postgresql/15/bin /usr/local/bin; do
    if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then echo "$candidate"; return 0; fi
  done
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return 0; fi
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/initdb" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

bindir() {
  local found
  if found=$(find_bindir); then echo "$found"; return 0; fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "pg-cluster: PostgreSQL server binaries missing; installing postgresql-15" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 >&2 \
    || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  find_bindir || die "no initdb found after installing PostgreSQL"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_in_use() {
  # bash's /dev/tcp: a connection that succeeds means something listens there.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! port_in_use "$port" && [ ! -e "$dir/socket/.s.PGSQL.$port" ]; then echo "$port"; return 0; fi
  done
  die "no free port found"
}

print_url() {
  local port password
  port=$(cat "$dir/port")
  password=$(cat "$dir/qbsyncd.password")
  echo "QBSYNCD_TEST_DATABASE_URL=postgres://qbsyncd:${password}@127.0.0.1:${port}/qbsyncd?sslmode=disable"
}

# Runs a command with only stdin, stdout and stderr of this script's descriptors: a server started
# so does not hold its caller's pipes or sockets open (a caller that waits for this script's exit
# through an inherited descriptor, as Foundation's Process does, would otherwise wait for the server's).
without_inherited_fds() {
  (
    for fd in $(ls /proc/$BASHPID/fd 2>/dev/null); do
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    "$@"
  )
}

# Starts the server of DIR/data on port $2 (the same options on a first start and a restart).
server_start() {
  without_inherited_fds as_owner "$1/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $2 -k $dir/socket -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=600" start >/dev/null
}

# A cluster this script made and started once (it has a port): its data is kept by the two below.
require_cluster() {
  [ -f "$dir/$marker" ] || die "$dir was not made by this script; not touching it"
  [ -f "$dir/port" ] && [ -d "$dir/data" ] || die "no cluster at $dir"
}

# Stops the server (fast shutdown: clients are disconnected, open transactions roll back), keeping
# DIR, its data and its port for `start-server`.
stop_server() {
  require_cluster
  local bin
  bin=$(bindir)
  if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  fi
  echo "pg-cluster: server of $dir stopped (data kept)"
}

# Starts the server again on the same data, port and socket; the URL stays valid.
start_server() {
  require_cluster
  local bin port
  bin=$(bindir)
  port=$(cat "$dir/port")
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    server_start "$bin" "$port" || { tail -20 "$dir/server.log" >&2; die "the server did not start again on port $port"; }
  fi
  print_url
}

start() {
  local bin owner port password
  bin=$(bindir)
  if [ -f "$dir/$marker" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 && { print_url; return 0; }
  fi
  [ ! -e "$dir" ] || [ -f "$dir/$marker" ] || [ -z "$(ls -A "$dir")" ] \
    || die "$dir exists and was not made by this script; name an empty or new directory"
  rm -rf "$dir"
  mkdir -p "$dir/socket"
  touch "$dir/$marker"
  owner=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no postgres user (install postgresql-15)"
    owner=postgres
    chown -R postgres: "$dir"
    runuser -u postgres -- test -x "$dir" || die "the postgres user cannot reach $dir (a parent directory is closed); choose another DIR"
  fi
  chmod 700 "$dir"
  local socket_path="$dir/socket/.s.PGSQL.65535"
  [ "${#socket_path}" -lt 100 ] || die "$dir is too long a path for a Unix socket; choose a shorter DIR"

  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  as_owner sh -c "umask 077; printf '%s\n' '$password' > '$dir/pwfile'"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    --pwfile="$dir/pwfile" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      --pwfile="$dir/pwfile" -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  rm -f "$dir/pwfile"
  # The cluster owner may connect over the socket by peer; everyone else by password over 127.0.0.1.
  as_owner sh -c "cat > '$dir/data/pg_hba.conf'" <<EOF
local   all   $owner                    peer
host    all   all       127.0.0.1/32    scram-sha-256
EOF

  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if server_start "$bin" "$port"; then
      echo "$port" > "$dir/port"
      break
    fi
    port=""
  done
  [ -n "$port" ] || { tail -20 "$dir/server.log" >&2; die "the server did not start"; }

  # The daemon's role: it logs in and owns its database (it runs the migrations), nothing more.
  # Tests make a schema each inside that database, so it needs no CREATEDB.
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$password" > "$dir/qbsyncd.password"
  chmod 600 "$dir/qbsyncd.password"
  local psql="$bin/psql"
  [ -x "$psql" ] || psql=$(command -v psql) || die "psql not found (install postgresql-client-15)"
  as_owner "$psql" -q -v ON_ERROR_STOP=1 -h "$dir/socket" -p "$port" -U "$owner" -d postgres <<EOF >/dev/null
CREATE ROLE qbsyncd LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '$password';
CREATE DATABASE qbsyncd OWNER qbsyncd;
REVOKE ALL ON DATABASE qbsyncd FROM PUBLIC;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE qbsyncd TO qbsyncd;
EOF
  print_url
}

stop() {
  [ -d "$dir" ] || { echo "pg-cluster: nothing at $dir"; return 0; }
  [ -f "$dir/$marker" ] || die "$dir was not made by this script; not touching it"
  if [ -f "$dir/data/postmaster.pid" ]; then
    local bin
    bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  fi
  rm -rf "$dir"
  echo "pg-cluster: stopped and removed $dir"
}

case "$command" in
  start) start ;;
  stop) stop ;;
  url) [ -f "$dir/port" ] || die "no cluster at $dir"; print_url ;;
  stop-server) stop_server ;;
  start-server) start_server ;;
  restart) stop_server >/dev/null; start_server ;;
  *) echo "usage: $0 start|stop|url|stop-server|start-server|restart [DIR]" >&2; exit 2 ;;
esac

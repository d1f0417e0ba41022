#!/usr/bin/env bash
# A private PostgreSQL cluster for local development and tests: one database per service,
# owned by the role painflow/painflow, listening on 127.0.0.1 only, on port 55432 so it never
# clashes with a system cluster on 5432. PostgreSQL comes from Debian's packages.
#
# Usage: deploy/postgres/postgres.sh COMMAND
#   install      apt-get install postgresql if no /usr/lib/postgresql/*/bin/pg_ctl exists
#   start        install if needed, initdb once, start, wait until ready, create the role and
#                the databases if absent (idempotent)
#   stop         stop the cluster this script started (fast, then immediate, then KILL)
#   restart      stop, then start
#   status       exit 0 if the cluster is running, 3 if not
#   url SERVICE  print the SQLAlchemy URL of a service's database
#                (postgresql+psycopg://painflow:painflow@127.0.0.1:PORT/painflow_SERVICE)
#   env          print REFERRAL_DATABASE_URL=... (and the other three), for eval or .env files
#   logs [-f|N]  show the last N (default 200) lines of the server log, or follow it
#   reset        stop and delete the cluster (every database in it)
#
# Environment:
#   PGPORT (55432), PG_READY_TIMEOUT (60 s), PG_STOP_TIMEOUT (30 s), PAINFLOW_RUN_DIR (.run),
#   PG_BINDIR (newest /usr/lib/postgresql/*/bin), PAINFLOW_PG_DURABLE=1 (keep fsync on; by
#   default this disposable cluster trades crash safety for speed: fsync, synchronous_commit
#   and full_page_writes are off).
#
# Files: .run/postgres/ holds the cluster (data/, postgres.log, the socket) and the port it
# was started on. PostgreSQL refuses to run as root: as root the cluster belongs to the
# `postgres` OS user (commands run through runuser); if that user cannot reach .run/postgres
# (a parent directory closed to it, e.g. a checkout under /root), the cluster goes to
# /var/tmp/painflow-postgres-<hash>/ and .run/postgres/cluster-dir records where.
# The postmaster's own pid file is <cluster>/data/postmaster.pid; stop acts on that pid only.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAEMON_NAME=postgres
# shellcheck source=../lib/daemon.sh
source "$SCRIPT_DIR/../lib/daemon.sh"
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)


RUN_ROOT=$(abspath "${PAINFLOW_RUN_DIR:-$REPO_ROOT/.run}")
PG_DIR="$RUN_ROOT/postgres"
PORT_FILE="$PG_DIR/port"
POINTER_FILE="$PG_DIR/cluster-dir"
PG_HOST=127.0.0.1
DEFAULT_PORT=55432
PG_READY_TIMEOUT=${PG_READY_TIMEOUT:-60}
PG_STOP_TIMEOUT=${PG_STOP_TIMEOUT:-30}
SUPERUSER=postgres
APP_ROLE=painflow
APP_PASSWORD=painflow
SERVICES=(referral assessment scheduling followup)


for v in PG_READY_TIMEOUT PG_STOP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
if [[ -n ${PGPORT:-} && ! $PGPORT =~ ^[0-9]+$ ]]; then die "PGPORT must be a number, got '$PGPORT'"; fi

# ---------------------------------------------------------------------------------- helpers

is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a PostgreSQL program as the cluster's owner: `postgres` when we are root (the server
# refuses root), ourselves otherwise. From / so a cwd the owner cannot read does not matter.
as_owner() {
  if is_root; then (cd / && runuser -u postgres -- "$@")
  else (cd / && "$@")
  fi
}

# shellcheck disable=SC2016  # $1/$2 expand in the inner bash

# The port: PGPORT if set, else the one the cluster was last started on, else 55432.
port() {
  if [[ -n ${PGPORT:-} ]]; then printf '%s\n' "$PGPORT"
  elif [[ -s $PORT_FILE ]]; then tr -dc '0-9' <"$PORT_FILE"; echo
  else printf '%s\n' "$DEFAULT_PORT"
  fi
}

# Where the cluster lives (no side effects): .run/postgres, or what cluster-dir records.
cluster_dir() {
  if [[ -s $POINTER_FILE ]]; then head -n 1 "$POINTER_FILE"; else printf '%s\n' "$PG_DIR"; fi
}

# Unix sockets paths are limited to ~107 bytes: fall back to /tmp for deep checkouts.
socket_dir() {
  local c; c=$(cluster_dir)
  if (( ${#c} + 20 < 100 )); then printf '%s\n' "$c"; else printf '/tmp\n'; fi
}

bindir() { # the PostgreSQL binaries: PG_BINDIR, else the data directory's version, else the newest
  local data; data="$(cluster_dir)/data"
  if [[ -n ${PG_BINDIR:-} ]]; then printf '%s\n' "$PG_BINDIR"; return 0; fi
  if [[ -s $data/PG_VERSION && -x /usr/lib/postgresql/$(<"$data/PG_VERSION")/bin/pg_ctl ]]; then
    printf '%s\n' "/usr/lib/postgresql/$(<"$data/PG_VERSION")/bin"; return 0
  fi
  local found
  found=$(compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' | sort -V | tail -n 1) || true
  if [[ -n $found ]]; then dirname "$found"; return 0; fi
  found=$(command -v pg_ctl 2>/dev/null) || return 1   # not Debian: whatever is on PATH
  dirname "$found"
}


postmaster_pid() { # pid from postmaster.pid if that process is alive and runs our data directory
  local data pid
  data="$(cluster_dir)/data"
  [[ -f $data/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$data/postmaster.pid" | tr -dc '0-9')
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    case "$(tr '\0' ' ' <"/proc/$pid/cmdline")" in *postgres*"$data"*) ;; *) return 1 ;; esac
  fi
  printf '%s\n' "$pid"
}

running() { # our cluster is up (pg_ctl's own check, through postmaster.pid)
  local bin data
  data="$(cluster_dir)/data"
  [[ -f $data/PG_VERSION ]] || return 1
  bin=$(bindir) || return 1
  as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1
}

show_log_tail() {
  local f; f="$(cluster_dir)/postgres.log"
  if [[ -s $f ]]; then printf -- '----- last 30 lines of %s -----\n' "$f" >&2; tail -n 30 "$f" >&2; fi
}

url() { printf 'postgresql+psycopg://%s:%s@%s:%s/painflow_%s\n' "$APP_ROLE" "$APP_PASSWORD" "$PG_HOST" "$(port)" "$1"; }

# shellcheck disable=SC2120  # extra psql arguments are optional
psql_super() { # psql as the superuser, over the private Unix socket
  local bin; bin=$(bindir)
  as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$(socket_dir)" -p "$(port)" -U "$SUPERUSER" -d postgres "$@"
}

# --------------------------------------------------------------------------------- commands

cmd_install() {
  local bin
  if [[ -n ${PG_BINDIR:-} ]]; then
    [[ -x $PG_BINDIR/pg_ctl && -x $PG_BINDIR/initdb ]] || die "PG_BINDIR=$PG_BINDIR has no pg_ctl/initdb"
  fi
  if bin=$(bindir) && [[ -x $bin/pg_ctl && -x $bin/initdb ]]; then
    log "PostgreSQL found in $bin"
    return 0
  fi
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and this is not a Debian/Ubuntu system: install PostgreSQL 15+ and set PG_BINDIR"
  local -a sudo=()
  if ! is_root; then
    if ! { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
      die "PostgreSQL is not installed; run as root (or with passwordless sudo): apt-get install -y postgresql"
    fi
    sudo=(sudo -n)
  fi
  local -a apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q)
  log "installing PostgreSQL from the Debian packages ..."
  local started=$SECONDS
  if ! "${apt[@]}" install --no-install-recommends postgresql >&2; then
    log "install failed; refreshing the package lists and retrying"
    "${apt[@]}" update >&2
    "${apt[@]}" install --no-install-recommends postgresql >&2 || die "apt-get install postgresql failed"
  fi
  bin=$(bindir) || die "postgresql installed, but no /usr/lib/postgresql/*/bin/pg_ctl found"
  log "installed PostgreSQL in $bin ($((SECONDS - started)) s)"
}

# Make sure the cluster's owner can write the cluster directory; choose and record a
# fallback outside the checkout if it cannot.
prepare_cluster_dir() {
  local c
  c=$(cluster_dir)
  if ! is_root; then mkdir -p "$c"; return 0; fi
  id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (it comes with Debian's postgresql-common package)"
  mkdir -p "$c"
  chown postgres: "$c"
  chmod 700 "$c"
  if [[ $c == "$PG_DIR" ]] && ! runuser -u postgres -- test -w "$c" -a -x "$c" 2>/dev/null; then
    chown "$(id -u):$(id -g)" "$PG_DIR"
    c="/var/tmp/painflow-postgres-$(printf '%s' "$PG_DIR" | sha256sum | cut -c1-12)"
    log "the postgres user cannot reach $PG_DIR (a parent directory is closed to it); the cluster goes to $c"
    mkdir -p "$c"
    chown postgres: "$c"
    chmod 700 "$c"
    printf '%s\n' "$c" >"$POINTER_FILE"
  fi
}

write_config() { # our settings, rewritten on every start (port, socket), included by postgresql.conf
  local c data conf durable
  c=$(cluster_dir); data="$c/data"; conf="$data/painflow.conf"
  if [[ ${PAINFLOW_PG_DURABLE:-0} == 1 ]]; then durable='on'; else durable='off'; fi
  as_owner tee "$conf" >/dev/null <<EOF
# Written by deploy/postgres/postgres.sh on every start; edit the script, not this file.
listen_addresses = '$PG_HOST'
port = $(port)
unix_socket_directories = '$(socket_dir)'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 128MB
timezone = 'UTC'
log_timezone = 'UTC'
# A disposable dev/test cluster: durability off for speed (PAINFLOW_PG_DURABLE=1 turns it on).
fsync = $durable
synchronous_commit = $durable
full_page_writes = $durable
EOF
  grep -q "^include_if_exists = 'painflow.conf'" "$data/postgresql.conf" \
    || printf "\ninclude_if_exists = 'painflow.conf'\n" | as_owner tee -a "$data/postgresql.conf" >/dev/null
}

init_cluster() {
  local c data bin locale=()
  c=$(cluster_dir); data="$c/data"
  [[ -f $data/PG_VERSION ]] && return 0
  bin=$(bindir)
  if locale -a 2>/dev/null | grep -qix 'c.utf-\?8'; then locale=(--locale=C.UTF-8); else locale=(--no-locale); fi
  log "creating a cluster in $data ($("$bin/postgres" --version))"
  local out
  # trust on the Unix socket only: it lives in a 0700 directory with 0700 permissions, so only
  # the owner reaches it; TCP (127.0.0.1) needs a password.
  if ! out=$(as_owner "$bin/initdb" -D "$data" -U "$SUPERUSER" --encoding=UTF8 "${locale[@]}" \
      --auth-local=trust --auth-host=scram-sha-256 2>&1); then
    printf '%s\n' "$out" >&2
    die "initdb failed"
  fi
}

create_databases() {
  local dbs="" s
  for s in "${SERVICES[@]}"; do dbs+="${dbs:+,}'painflow_$s'"; done
  # shellcheck disable=SC2119
  psql_super <<EOF
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$APP_ROLE', '$APP_PASSWORD')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') \\gexec
ALTER ROLE $APP_ROLE LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
SELECT format('CREATE DATABASE %I OWNER %I', d, '$APP_ROLE')
FROM unnest(ARRAY[$dbs]) AS d
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \\gexec
EOF
}

wait_ready() {
  local bin started=$1 deadline=$(( $1 + PG_READY_TIMEOUT ))
  bin=$(bindir)
  until "$bin/pg_isready" -q -h "$PG_HOST" -p "$(port)" -d postgres; do
    if ! running; then show_log_tail; die "the server stopped during startup"; fi
    if (( SECONDS >= deadline )); then show_log_tail; die "not ready after ${PG_READY_TIMEOUT} s"; fi
    sleep 0.5
  done
  log "ready on $PG_HOST:$(port) ($((SECONDS - started)) s)"
}

cmd_start() {
  take_lock "$PG_DIR" $((PG_READY_TIMEOUT + PG_STOP_TIMEOUT + 600))
  local started=$SECONDS c data bin pid
  if running; then
    pid=$(postmaster_pid) || pid='?'
    log "already running (pid $pid, port $(port))"
    wait_ready "$started"
    create_databases
    return 0
  fi
  if port_open "$PG_HOST" "$(port)"; then
    # Someone else's server on our port: fine if it already serves our databases.
    if bin=$(bindir) && PGPASSWORD=$APP_PASSWORD PGCONNECT_TIMEOUT=5 "$bin/psql" -X -q -w \
        -h "$PG_HOST" -p "$(port)" -U "$APP_ROLE" -d painflow_referral -c 'select 1' >/dev/null 2>&1; then
      log "a PostgreSQL server this script did not start already serves painflow on $PG_HOST:$(port): reusing it"
      return 0
    fi
    die "port $PG_HOST:$(port) is taken by another process; set PGPORT to a free port"
  fi
  cmd_install
  prepare_cluster_dir
  init_cluster
  write_config
  c=$(cluster_dir); data="$c/data"; bin=$(bindir)
  printf '%s\n' "$(port)" >"$PORT_FILE"
  log "starting PostgreSQL on $PG_HOST:$(port), data in $data"
  started=$SECONDS
  # 9>&- : the server must not inherit (and hold) our lock.
  if ! as_owner "$bin/pg_ctl" start -D "$data" -l "$c/postgres.log" -w -t "$PG_READY_TIMEOUT" -s 9>&- >&2; then
    show_log_tail
    die "pg_ctl start failed"
  fi
  wait_ready "$started"
  create_databases
  log "databases: $(printf 'painflow_%s ' "${SERVICES[@]}")(role $APP_ROLE)"
}

cmd_stop() {
  take_lock "$PG_DIR" $((PG_READY_TIMEOUT + PG_STOP_TIMEOUT + 600))
  local c data bin pid started=$SECONDS
  c=$(cluster_dir); data="$c/data"
  if ! running; then
    log "not running"
    return 0
  fi
  bin=$(bindir)
  pid=$(postmaster_pid) || pid=''
  log "stopping (pid ${pid:-?}) ..."
  if ! as_owner "$bin/pg_ctl" stop -D "$data" -m fast -w -t "$PG_STOP_TIMEOUT" -s >&2; then
    log "not stopped after ${PG_STOP_TIMEOUT} s: immediate shutdown"
    as_owner "$bin/pg_ctl" stop -D "$data" -m immediate -w -t 10 -s >&2 || true
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      log "sending KILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  log "stopped ($((SECONDS - started)) s)"
}

cmd_status() {
  local pid
  if running; then
    pid=$(postmaster_pid) || pid='?'
    log "running (pid $pid) on $PG_HOST:$(port), data $(cluster_dir)/data"
    return 0
  fi
  log "not running"
  return 3
}

cmd_url() {
  local s=${1:-}
  [[ " ${SERVICES[*]} " == *" $s "* ]] || die "usage: postgres.sh url {$(IFS='|'; echo "${SERVICES[*]}")}"
  url "$s"
}

cmd_env() {
  local s
  for s in "${SERVICES[@]}"; do printf '%s_DATABASE_URL=%s\n' "${s^^}" "$(url "$s")"; done
}

cmd_logs() { show_logs "$(cluster_dir)/postgres.log" "$@"; }

cmd_reset() {
  cmd_stop
  local c; c=$(cluster_dir)
  log "deleting the cluster in $c"
  rm -rf "$c/data" "$c/postgres.log"
  [[ $c != "$PG_DIR" ]] && rm -rf "$c"
  rm -f "$POINTER_FILE" "$PORT_FILE"
}

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; }

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  url) shift; cmd_url "$@" ;;
  env) cmd_env ;;
  logs) shift; cmd_logs "$@" ;;
  reset) cmd_reset ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac

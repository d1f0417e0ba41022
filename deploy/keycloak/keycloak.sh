#!/usr/bin/env bash
# The local identity provider: Keycloak, from its server distribution on Maven Central
# (deploy/keycloak/pom.xml pins the version), with the realm `painflow` imported from
# deploy/keycloak/painflow-realm.json. Listens on 127.0.0.1 only; the issuer is
# http://127.0.0.1:8180/realms/painflow . For local development and the tests only: every
# secret and password in the realm is public (see the README, "Signing in (tokens)").
#
# Usage: deploy/keycloak/keycloak.sh COMMAND
#   fetch         resolve the distribution into .cache/keycloak/<version>/ (only if absent;
#                 ~165 MB), unpack it and pre-build it (`kc.sh build`) so that start is quick
#   start         fetch if needed, generate the private_key_jwt clients' keys (first start),
#                 render the realm, start in the background, wait until the realm answers
#                 (idempotent; reuses a Keycloak already serving the realm that it did not start)
#   stop          stop the server this script started (TERM, then KILL after KEYCLOAK_STOP_TIMEOUT s)
#   restart       stop, then start
#   status        exit 0 if the realm answers on the port, 3 if not
#   logs [-f|N]   show the last N (default 200) lines of its log, or follow it
#   token CLIENT  print an access token for CLIENT (ehr, scheduler, dashboard, admin: client
#                 secret; ehr-jwt, ...: private_key_jwt, which needs `make setup`'s virtualenv)
#   issuer        print the issuer URL
#   reset         stop, then delete the database and the keys (the next start imports afresh)
#
# Environment:
#   KEYCLOAK_PORT (8180), KEYCLOAK_HEAP_OPTS (-Xms64m -Xmx320m), KEYCLOAK_READY_TIMEOUT (120 s),
#   KEYCLOAK_STOP_TIMEOUT (20 s), KEYCLOAK_VERSION (from pom.xml), PAINFLOW_RUN_DIR (.run),
#   PAINFLOW_CACHE_DIR (.cache), JAVA_HOME (Keycloak 26 needs Java 21+: when JAVA_HOME or `java`
#   is older, the newest JDK 21+ under /usr/lib/jvm is used)
#
# Files (repo root): .cache/keycloak/<version>/keycloak-<version>/ (the built server), and under
# .run/keycloak/: keycloak.pid, keycloak.log, keys/ (the clients' private keys: git-ignored),
# data/ (the H2 database, linked as the server's data directory; the realm is imported again
# whenever the rendered realm changes), realm.json (what was imported).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAEMON_NAME=keycloak
# shellcheck source=../lib/daemon.sh
source "$SCRIPT_DIR/../lib/daemon.sh"
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
POM="$SCRIPT_DIR/pom.xml"
REALM_SOURCE="$SCRIPT_DIR/painflow-realm.json"

KEYCLOAK_VERSION=${KEYCLOAK_VERSION:-$(sed -n 's:.*<keycloak.version>\(.*\)</keycloak.version>.*:\1:p' "$POM" | head -n 1)}
CACHE_ROOT=$(abspath "${PAINFLOW_CACHE_DIR:-$REPO_ROOT/.cache}")
DIST_DIR="$CACHE_ROOT/keycloak/$KEYCLOAK_VERSION"
KC_HOME="$DIST_DIR/keycloak-$KEYCLOAK_VERSION"
BUILT_MARK="$KC_HOME/.painflow-built"
RUN_ROOT=$(abspath "${PAINFLOW_RUN_DIR:-$REPO_ROOT/.run}")
KC_DIR="$RUN_ROOT/keycloak"
PID_FILE="$KC_DIR/keycloak.pid"
LOG_FILE="$KC_DIR/keycloak.log"
DATA_DIR="$KC_DIR/data"
KEYS_DIR="$KC_DIR/keys"
RENDERED="$KC_DIR/realm.json"

KEYCLOAK_HOST=127.0.0.1
KEYCLOAK_PORT=${KEYCLOAK_PORT:-8180}
KEYCLOAK_HEAP_OPTS=${KEYCLOAK_HEAP_OPTS:--Xms64m -Xmx320m}
KEYCLOAK_READY_TIMEOUT=${KEYCLOAK_READY_TIMEOUT:-120}
KEYCLOAK_STOP_TIMEOUT=${KEYCLOAK_STOP_TIMEOUT:-20}
REALM=painflow
ISSUER="http://$KEYCLOAK_HOST:$KEYCLOAK_PORT/realms/$REALM"
# kc.sh's own JVM defaults (bin/kc.sh), but for the collector, the JIT and the archive.
JVM_OPTS=(-XX:MetaspaceSize=96M -XX:MaxMetaspaceSize=256m -Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8
  -Dsun.err.encoding=UTF-8 -Dstdout.encoding=UTF-8 -Dstderr.encoding=UTF-8 -XX:+ExitOnOutOfMemoryError
  -Djava.security.egd=file:/dev/urandom -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  -Djdk.tls.rejectClientInitiatedRenegotiation=true -XX:+AutoCreateSharedArchive -Xlog:cds*=off -Xlog:aot*=off
  --add-opens=java.base/java.lang=ALL-UNNAMED)  # jboss-threads' thread-local reset on Java 24+
# Build-time options (`kc.sh build`): the file-backed H2 database, nothing else to build in.
BUILD_OPTS=(--db=dev-file)

for v in KEYCLOAK_PORT KEYCLOAK_READY_TIMEOUT KEYCLOAK_STOP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ -n $KEYCLOAK_VERSION ]] || die "cannot read <keycloak.version> from $POM"

# ---------------------------------------------------------------------------------- helpers

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }

find_java21() { # a Java 21+ (JAVA_HOME, then `java`, then the newest under /usr/lib/jvm), or die
  local candidate major best='' best_major=0
  for candidate in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n $candidate && -x $candidate ]] || continue
    major=$(java_major "$candidate")
    [[ -n $major ]] || continue
    if (( major >= 21 )); then printf '%s\n' "$candidate"; return 0; fi
    (( major > best_major )) && { best=$candidate; best_major=$major; }
  done
  die "Keycloak $KEYCLOAK_VERSION needs Java 21+, found ${best:-no java}${best:+ (Java $best_major)}; install one (apt-get install openjdk-21-jdk-headless, or a Temurin 21+) or set JAVA_HOME"
}

healthy() { # true if the realm's OpenID configuration answers 200 on the port (no curl needed)
  # shellcheck disable=SC2016  # $1/$2/$3 expand in the inner bash
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET /realms/%s/.well-known/openid-configuration HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n" "$3" "$1" "$2" >&3
    IFS=" " read -r -t 4 _ code _ <&3 && [[ $code == 200 ]]
  ' _ "$KEYCLOAK_HOST" "$KEYCLOAK_PORT" "$REALM" 2>/dev/null
}

our_pid() { # the launcher's pid from the pid file, if that process is alive and is our server
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(tr -dc '0-9' <"$PID_FILE")
  [[ -n $pid ]] && alive "$pid" || return 1
  # Guard against pid reuse: only ever touch a kc.sh of this checkout's distribution.
  case "$(cmdline_of "$pid")" in *"$KC_HOME/bin/kc.sh start "*) ;; *) return 1 ;; esac
  printf '%s\n' "$pid"
}

server_pid() { # the JVM under the launcher (kc.sh runs java as its child and forwards signals)
  pgrep -P "$1" java 2>/dev/null | head -n 1 || true
}

show_tail() { tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true; }

# --------------------------------------------------------------------------------- commands

resolve_zip() { # tmp dir: Maven copies keycloak-<version>.zip there
  log "resolving org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip (~165 MB) from Maven Central ..."
  # (sed: Maven 3.8 prints bare ANSI resets even with -q and style.color=never)
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy \
      "-Dkeycloak.version=$KEYCLOAK_VERSION" "-Dkeycloak.dir=$1" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
    die "Maven could not resolve org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip (see the output above)"
  fi
  [[ -f $1/keycloak-$KEYCLOAK_VERSION.zip ]] || die "Maven finished but keycloak-$KEYCLOAK_VERSION.zip is missing"
}

build_server() { # java: pre-build (Quarkus augmentation) once, so that start runs --optimized
  log "building the server (kc.sh build ${BUILD_OPTS[*]}) ..."
  JAVA_HOME=$(dirname "$(dirname "$1")") "$KC_HOME/bin/kc.sh" build "${BUILD_OPTS[@]}" >"$DIST_DIR/build.log" 2>&1 \
    || { tail -n 30 "$DIST_DIR/build.log" >&2; die "kc.sh build failed (log: $DIST_DIR/build.log)"; }
  rm -rf "$KC_HOME/data"  # start links data/ into the run directory
  printf '%s\n' "${BUILD_OPTS[*]}" >"$BUILT_MARK"
}

cmd_fetch() {
  if [[ -f $BUILT_MARK && $(<"$BUILT_MARK") == "${BUILD_OPTS[*]}" ]]; then
    log "Keycloak $KEYCLOAK_VERSION already in $KC_HOME (built)"; return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) not found; install it (apt-get install maven)"
  local java started=$SECONDS
  java=$(find_java21)
  mkdir -p "$CACHE_ROOT/keycloak"
  exec 8>"$CACHE_ROOT/keycloak/.fetch.lock"
  flock -w 900 8 || die "timed out waiting for another fetch"
  if [[ ! -x $KC_HOME/bin/kc.sh ]]; then
    local tmp="$DIST_DIR.tmp.$$"
    rm -rf "$tmp"
    resolve_zip "$tmp"
    (cd "$tmp" && unzip -q "keycloak-$KEYCLOAK_VERSION.zip" && rm -f "keycloak-$KEYCLOAK_VERSION.zip") \
      || { rm -rf "$tmp"; die "could not unpack keycloak-$KEYCLOAK_VERSION.zip"; }
    # Move into place atomically, so an interrupted fetch never looks like a complete one.
    rm -rf "$DIST_DIR"
    mv "$tmp" "$DIST_DIR"
  fi
  [[ -f $BUILT_MARK && $(<"$BUILT_MARK") == "${BUILD_OPTS[*]}" ]] || build_server "$java"
  exec 8>&-
  log "Keycloak $KEYCLOAK_VERSION ready in $KC_HOME ($((SECONDS - started)) s)"
}

render_realm() { # keys on first start; a changed realm (source or keys) is imported afresh
  command -v openssl >/dev/null || die "openssl not found (it makes the private_key_jwt clients' keys)"
  python3 "$SCRIPT_DIR/render_realm.py" "$REALM_SOURCE" "$KEYS_DIR" "$RENDERED.new" \
    || die "could not render the realm from $REALM_SOURCE"
  mkdir -p "$DATA_DIR/import"
  if ! cmp -s "$RENDERED.new" "$RENDERED" || [[ ! -f $DATA_DIR/import/$REALM-realm.json ]]; then
    [[ -d $DATA_DIR/h2 ]] && log "the realm changed: importing it into a new database"
    rm -rf "$DATA_DIR/h2"
  fi
  mv -f "$RENDERED.new" "$RENDERED"
  cp "$RENDERED" "$DATA_DIR/import/$REALM-realm.json"
}

wait_ready() { # pid started
  local pid=$1 started=$2
  while ! healthy; do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"; show_tail
      die "Keycloak (pid $pid) exited during startup (log: $LOG_FILE)"
    fi
    if (( SECONDS - started >= KEYCLOAK_READY_TIMEOUT )); then
      show_tail
      die "not ready after ${KEYCLOAK_READY_TIMEOUT} s; left running (pid $pid): 'keycloak.sh stop' stops it"
    fi
    sleep 0.3
  done
  local jvm rss=''
  jvm=$(server_pid "$pid")
  [[ -n $jvm && -r /proc/$jvm/status ]] && rss=", RSS $(awk '/VmRSS/ {printf "%d MB", $2/1024}' "/proc/$jvm/status")"
  log "ready: issuer $ISSUER (pid $pid$rss, $((SECONDS - started)) s)"
}

launch() { # java
  local java=$1
  # JAVA_OPTS replaces kc.sh's defaults (G1, heap 512m): the serial collector and C1 only keep a
  # small dev server small, the class-data archive (JDK 19+) makes later starts quicker. The
  # bootstrap admin (admin/admin, dev only) is created once, with the database: console /admin/.
  # shellcheck disable=SC2016  # $$/$1/$@ expand in the inner bash
  (cd "$KC_DIR" && exec env JAVA_HOME="$(dirname "$(dirname "$java")")" \
      JAVA_OPTS="$KEYCLOAK_HEAP_OPTS ${JVM_OPTS[*]} -XX:SharedArchiveFile=$KC_DIR/keycloak.jsa" \
      KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
      setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' painflow-keycloak "$PID_FILE" \
      "$KC_HOME/bin/kc.sh" start --optimized --http-enabled=true \
      "--http-host=$KEYCLOAK_HOST" "--http-port=$KEYCLOAK_PORT" \
      "--hostname=http://$KEYCLOAK_HOST:$KEYCLOAK_PORT" --cache=local --import-realm \
      --log-console-color=false </dev/null >>"$LOG_FILE" 2>&1 9>&- &)
}

cmd_start() {
  take_lock "$KC_DIR" $((KEYCLOAK_READY_TIMEOUT + KEYCLOAK_STOP_TIMEOUT + 60))
  local pid java started=$SECONDS
  if pid=$(our_pid); then log "already running (pid $pid)"; wait_ready "$pid" "$started"; return 0; fi
  rm -f "$PID_FILE"
  if healthy; then
    log "a Keycloak already serves realm $REALM on $KEYCLOAK_HOST:$KEYCLOAK_PORT that this script did not start: reusing it"
    return 0
  fi
  port_open "$KEYCLOAK_HOST" "$KEYCLOAK_PORT" && die "port $KEYCLOAK_HOST:$KEYCLOAK_PORT is taken by something else; set KEYCLOAK_PORT"
  java=$(find_java21)
  cmd_fetch
  started=$SECONDS
  render_realm
  # The server's data directory (H2 database, import, tmp) lives in our run directory.
  [[ -L $KC_HOME/data || ! -e $KC_HOME/data ]] || rm -rf "$KC_HOME/data"
  ln -sfn "$DATA_DIR" "$KC_HOME/data"
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$KC_DIR/keycloak.previous.log"
  log "starting Keycloak $KEYCLOAK_VERSION on $KEYCLOAK_HOST:$KEYCLOAK_PORT (realm $REALM, heap $KEYCLOAK_HEAP_OPTS)"
  launch "$java"
  local _
  for _ in $(seq 1 50); do [[ -s $PID_FILE ]] && break; sleep 0.1; done
  [[ -s $PID_FILE ]] || { show_tail; die "Keycloak did not start (no pid file)"; }
  wait_ready "$(<"$PID_FILE")" "$started"
}

cmd_stop() {
  take_lock "$KC_DIR" $((KEYCLOAK_READY_TIMEOUT + KEYCLOAK_STOP_TIMEOUT + 60))
  # kc.sh forwards TERM to the JVM and waits for it; setsid made it its group's leader
  stop_ours "$KEYCLOAK_STOP_TIMEOUT" group
}

cmd_status() {
  local pid how="not started by this script"
  pid=$(our_pid) && how="pid $pid"
  if healthy; then log "running ($how): issuer $ISSUER, admin console http://$KEYCLOAK_HOST:$KEYCLOAK_PORT/admin/"; return 0; fi
  [[ -n $pid ]] && log "starting ($how), realm $REALM does not answer yet" || log "not running"
  return 3
}

cmd_logs() { show_logs "$LOG_FILE" "$@"; }

cmd_token() { # client: print an access token (client credentials)
  local client=${1:-}
  [[ -n $client ]] || die "usage: keycloak.sh token CLIENT (ehr, scheduler, dashboard, admin, or ehr-jwt, ...)"
  healthy || die "Keycloak does not answer on $KEYCLOAK_HOST:$KEYCLOAK_PORT: run 'bash deploy/keycloak/keycloak.sh start'"
  local python="$REPO_ROOT/.venv/bin/python"
  [[ -x $python ]] || die "no virtualenv at $REPO_ROOT/.venv: run 'make setup'"
  # The realm's secret for `<client>` is `<client>-dev-secret` (dev only); `<client>-jwt` signs
  # with .run/keycloak/keys/<client>-jwt.pem. Both through the project's own token client.
  PAINFLOW_AUTH_ISSUER=$ISSUER PAINFLOW_KEYS_DIR=$KEYS_DIR "$python" -m painflow_shared.testing.identity "$client"
}

cmd_reset() {
  cmd_stop
  log "deleting $DATA_DIR, $KEYS_DIR and $RENDERED"
  rm -rf "$DATA_DIR" "$KEYS_DIR" "$RENDERED"
}

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; }

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  token) shift; cmd_token "$@" ;;
  issuer) printf '%s\n' "$ISSUER" ;;
  reset) cmd_reset ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac

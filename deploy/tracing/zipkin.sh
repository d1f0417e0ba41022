#!/usr/bin/env bash
# The local trace viewer: Zipkin's server (API and UI) from its one self-contained jar, which
# Maven resolves from Maven Central (deploy/tracing/pom.xml pins the version). In-memory
# storage (traces are gone when it stops), listening on 127.0.0.1 only. `make run`/`make up`
# start it and point every service at it (PAINFLOW_ZIPKIN_ENDPOINT); the UI is
# http://127.0.0.1:9411/zipkin/ .
#
# Usage: deploy/tracing/zipkin.sh COMMAND
#   fetch       resolve the server jar into .cache/zipkin/<version>/ (only if absent; ~131 MB)
#   start       fetch if needed, start in the background, wait until /health answers
#               (idempotent; reuses a Zipkin already answering on the port that it did not start)
#   stop        stop the server this script started (TERM, then KILL after ZIPKIN_STOP_TIMEOUT s)
#   restart     stop, then start
#   status      exit 0 if a Zipkin answers /health on the port, 3 if not
#   logs [-f|N] show the last N (default 200) lines of its log, or follow it
#   url         print the base URL (http://127.0.0.1:PORT)
#   endpoint    print where spans go (http://127.0.0.1:PORT/api/v2/spans)
#
# Environment:
#   ZIPKIN_PORT (9411), ZIPKIN_HEAP_OPTS (-Xms64m -Xmx256m), ZIPKIN_MAX_SPANS (50000: the oldest
#   traces are dropped beyond it, which keeps the heap bounded), ZIPKIN_READY_TIMEOUT (60 s),
#   ZIPKIN_STOP_TIMEOUT (15 s), ZIPKIN_VERSION (from pom.xml), PAINFLOW_RUN_DIR (.run),
#   PAINFLOW_CACHE_DIR (.cache), JAVA_HOME
#
# Files (repo root): .cache/zipkin/<version>/zipkin-server-<version>-exec.jar, and under
# .run/zipkin/: zipkin.pid, zipkin.log (its output), zipkin.previous.log.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAEMON_NAME=zipkin
# shellcheck source=../lib/daemon.sh
source "$SCRIPT_DIR/../lib/daemon.sh"
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
POM="$SCRIPT_DIR/pom.xml"


ZIPKIN_VERSION=${ZIPKIN_VERSION:-$(sed -n 's:.*<zipkin.version>\(.*\)</zipkin.version>.*:\1:p' "$POM" | head -n 1)}
CACHE_ROOT=$(abspath "${PAINFLOW_CACHE_DIR:-$REPO_ROOT/.cache}")
JAR_DIR="$CACHE_ROOT/zipkin/$ZIPKIN_VERSION"
JAR="$JAR_DIR/zipkin-server-$ZIPKIN_VERSION-exec.jar"
RUN_ROOT=$(abspath "${PAINFLOW_RUN_DIR:-$REPO_ROOT/.run}")
ZIPKIN_DIR="$RUN_ROOT/zipkin"
PID_FILE="$ZIPKIN_DIR/zipkin.pid"
LOG_FILE="$ZIPKIN_DIR/zipkin.log"

ZIPKIN_HOST=127.0.0.1
ZIPKIN_PORT=${ZIPKIN_PORT:-9411}
ZIPKIN_HEAP_OPTS=${ZIPKIN_HEAP_OPTS:--Xms64m -Xmx256m}
ZIPKIN_MAX_SPANS=${ZIPKIN_MAX_SPANS:-50000}
ZIPKIN_READY_TIMEOUT=${ZIPKIN_READY_TIMEOUT:-60}
ZIPKIN_STOP_TIMEOUT=${ZIPKIN_STOP_TIMEOUT:-15}


for v in ZIPKIN_PORT ZIPKIN_MAX_SPANS ZIPKIN_READY_TIMEOUT ZIPKIN_STOP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ -n $ZIPKIN_VERSION ]] || die "cannot read <zipkin.version> from $POM"

# ---------------------------------------------------------------------------------- helpers

healthy() { # true if a Zipkin answers GET /health with 200 on the port (no curl needed)
  # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET /health HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n" "$1" "$2" >&3
    IFS=" " read -r -t 3 _ code _ <&3 && [[ $code == 200 ]] || exit 1
    length=0  # read the headers, then exactly the body: the server keeps the socket open a while
    while IFS= read -r -t 3 line <&3 && [[ $line != $'"'"'\r'"'"' ]]; do
      [[ ${line,,} =~ ^content-length:\ *([0-9]+) ]] && length=${BASH_REMATCH[1]}
    done
    (( length > 0 )) && IFS= read -r -t 3 -N "$length" body <&3 && [[ $body == *\"zipkin\"* ]]
  ' _ "$ZIPKIN_HOST" "$ZIPKIN_PORT" 2>/dev/null
}




our_pid() { # the server's pid from the pid file, if that process is alive and is our server
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(tr -dc '0-9' <"$PID_FILE")
  [[ -n $pid ]] && alive "$pid" || return 1
  # Guard against pid reuse: only ever touch the JVM started with our run directory.
  case "$(cmdline_of "$pid")" in *"-Dpainflow.zipkin.dir=$ZIPKIN_DIR "*zipkin-server-*) printf '%s\n' "$pid" ;; *) return 1 ;; esac
}



# --------------------------------------------------------------------------------- commands

cmd_fetch() {
  if [[ -f $JAR ]]; then log "Zipkin $ZIPKIN_VERSION already in $JAR_DIR"; return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) not found; install it (apt-get install maven)"
  mkdir -p "$CACHE_ROOT/zipkin"
  exec 8>"$CACHE_ROOT/zipkin/.fetch.lock"
  flock -w 600 8 || die "timed out waiting for another fetch"
  if [[ -f $JAR ]]; then exec 8>&-; log "Zipkin $ZIPKIN_VERSION already in $JAR_DIR"; return 0; fi
  local tmp="$JAR_DIR.tmp.$$" started=$SECONDS
  rm -rf "$tmp"
  log "resolving io.zipkin:zipkin-server:$ZIPKIN_VERSION:exec (~131 MB) from Maven Central into $JAR_DIR ..."
  # (sed: Maven 3.8 prints bare ANSI resets even with -q and style.color=never)
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy \
      "-Dzipkin.version=$ZIPKIN_VERSION" "-Dzipkin.dir=$tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
    rm -rf "$tmp"
    die "Maven could not resolve io.zipkin:zipkin-server:$ZIPKIN_VERSION:exec (see the output above)"
  fi
  [[ -f $tmp/${JAR##*/} ]] || { rm -rf "$tmp"; die "Maven finished but ${JAR##*/} is missing"; }
  # Move into place atomically, so an interrupted fetch never looks like a complete one.
  rm -rf "$JAR_DIR"
  mv "$tmp" "$JAR_DIR"
  exec 8>&-
  log "resolved $(du -h "$JAR" | cut -f1) in $((SECONDS - started)) s"
}

wait_ready() { # pid started
  local pid=$1 started=$2
  while ! healthy; do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      tail -n 40 "$LOG_FILE" >&2 || true
      die "Zipkin (pid $pid) exited during startup"
    fi
    if (( SECONDS - started >= ZIPKIN_READY_TIMEOUT )); then
      tail -n 40 "$LOG_FILE" >&2 || true
      die "not ready after ${ZIPKIN_READY_TIMEOUT} s; left running (pid $pid): 'zipkin.sh stop' stops it"
    fi
    sleep 0.3
  done
  log "ready on http://$ZIPKIN_HOST:$ZIPKIN_PORT/zipkin/ (pid $pid, $((SECONDS - started)) s)"
}

cmd_start() {
  take_lock "$ZIPKIN_DIR" $((ZIPKIN_READY_TIMEOUT + ZIPKIN_STOP_TIMEOUT + 60))
  local pid java started=$SECONDS
  if pid=$(our_pid); then log "already running (pid $pid)"; wait_ready "$pid" "$started"; return 0; fi
  rm -f "$PID_FILE"
  if healthy; then
    log "a Zipkin already answers on $ZIPKIN_HOST:$ZIPKIN_PORT that this script did not start: reusing it"
    return 0
  fi
  port_open "$ZIPKIN_HOST" "$ZIPKIN_PORT" && die "port $ZIPKIN_HOST:$ZIPKIN_PORT is taken by something else; set ZIPKIN_PORT"
  java=$(find_java "Zipkin $ZIPKIN_VERSION")
  cmd_fetch
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$ZIPKIN_DIR/zipkin.previous.log"
  local -a heap
  read -r -a heap <<<"$ZIPKIN_HEAP_OPTS"
  log "starting Zipkin $ZIPKIN_VERSION on $ZIPKIN_HOST:$ZIPKIN_PORT (in-memory, at most $ZIPKIN_MAX_SPANS spans)"
  # Its settings are environment variables (zipkin-server-shared.yml). Every collector but HTTP
  # stays off: Zipkin would otherwise read our KAFKA_BOOTSTRAP_SERVERS and consume a `zipkin`
  # topic. The port is re-declared whole, with the loopback address (Spring replaces the list).
  # setsid: it outlives the calling shell; the inner shell writes its pid and execs java.
  # shellcheck disable=SC2016  # $$/$1/$@ expand in the inner bash
  (cd "$ZIPKIN_DIR" && exec env -u KAFKA_BOOTSTRAP_SERVERS STORAGE_TYPE=mem \
      MEM_MAX_SPANS="$ZIPKIN_MAX_SPANS" QUERY_PORT="$ZIPKIN_PORT" COLLECTOR_KAFKA_ENABLED=false \
      COLLECTOR_RABBITMQ_ENABLED=false COLLECTOR_ACTIVEMQ_ENABLED=false \
      COLLECTOR_PULSAR_ENABLED=false COLLECTOR_SCRIBE_ENABLED=false \
      setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' painflow-zipkin "$PID_FILE" \
      "$java" "${heap[@]}" -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1 \
      "-Dpainflow.zipkin.dir=$ZIPKIN_DIR" -jar "$JAR" \
      "--armeria.ports[0].ip=$ZIPKIN_HOST" "--armeria.ports[0].port=$ZIPKIN_PORT" \
      "--armeria.ports[0].protocols[0]=http" </dev/null >>"$LOG_FILE" 2>&1 9>&- &)
  local _
  for _ in $(seq 1 50); do [[ -s $PID_FILE ]] && break; sleep 0.1; done
  [[ -s $PID_FILE ]] || { tail -n 40 "$LOG_FILE" >&2 || true; die "Zipkin did not start (no pid file)"; }
  wait_ready "$(<"$PID_FILE")" "$started"
}

cmd_stop() {
  take_lock "$ZIPKIN_DIR" $((ZIPKIN_READY_TIMEOUT + ZIPKIN_STOP_TIMEOUT + 60))
  stop_ours "$ZIPKIN_STOP_TIMEOUT"
}

cmd_status() {
  local pid how="not started by this script"
  pid=$(our_pid) && how="pid $pid"
  if healthy; then log "running ($how): http://$ZIPKIN_HOST:$ZIPKIN_PORT/zipkin/"; return 0; fi
  [[ -n $pid ]] && log "starting ($how), /health does not answer yet" || log "not running"
  return 3
}

cmd_logs() { show_logs "$LOG_FILE" "$@"; }

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; }

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  url) printf 'http://%s:%s\n' "$ZIPKIN_HOST" "$ZIPKIN_PORT" ;;
  endpoint) printf 'http://%s:%s/api/v2/spans\n' "$ZIPKIN_HOST" "$ZIPKIN_PORT" ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac

#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: broker + controller in one JVM) for local
# development and CI, run from the official jars Maven resolves from Maven Central
# (deploy/kafka/pom.xml pins the version; see docs/adr/0001-kafka-from-maven-central.md).
#
# Usage: deploy/kafka/kafka.sh COMMAND
#   fetch       resolve the broker jars into .cache/kafka/<version>/libs (only if absent)
#   start       fetch if needed, format storage once (with the SCRAM users), start in the
#               background, wait until ready (idempotent; reuses a broker already listening on the
#               port that it did not start). Storage formatted with other security settings (an
#               older PLAINTEXT broker, other users or passwords) is re-formatted: the local dev
#               topics and offsets under .run/kafka/data are deleted, nothing else.
#   stop        stop the broker this script started (TERM, then KILL after KAFKA_STOP_TIMEOUT s)
#   restart     stop, then start
#   status      exit 0 if a broker answers on the port, 3 if not
#   logs [-f|N] show the last N (default 200) lines of the broker log, or follow it
#   reset       stop and delete the data directory (topics, offsets, cluster id)
#   bootstrap   print the bootstrap address (127.0.0.1:PORT)
#   users       print the SCRAM users the broker is formatted with
#
# Security: clients connect to 127.0.0.1:PORT with SASL_PLAINTEXT and SCRAM-SHA-512 only; the
# StandardAuthorizer denies whatever no ACL allows. The users (KAFKA_USERS) are `admin` (the
# super user of tests, the painflow CLI and operators) and one principal per service; their ACLs
# come from code (painflow_shared/events/acls.py, `painflow kafka acls`). A user's password is
# KAFKA_PASSWORD_<USER> (e.g. KAFKA_PASSWORD_ADMIN), else the file KAFKA_PASSWORD_<USER>_FILE
# names, else the development default `painflow-dev-<user>` (what the services assume under
# PAINFLOW_ENV=development). The controller listener (CONTROLLER_PORT, loopback only) uses
# SASL/PLAIN with the admin user: the broker's own link to its controller.
#
# Environment:
#   KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_PARTITIONS (6, default for new topics)
#   KAFKA_READY_TIMEOUT (90 s), KAFKA_STOP_TIMEOUT (30 s), KAFKA_HEAP_OPTS (-Xms256m -Xmx768m)
#   KAFKA_VERSION (from pom.xml), PAINFLOW_RUN_DIR (.run), PAINFLOW_CACHE_DIR (.cache), JAVA_HOME
#   KAFKA_USERS (admin referral assessment scheduling followup), KAFKA_PASSWORD_<USER>[_FILE]
#
# Files (repo root): .cache/kafka/<version>/libs/*.jar, and under .run/kafka/:
#   server.properties (mode 600: it holds the admin password), data/ (log.dirs), cluster.id,
#   security.sha256 (a digest of the SCRAM users the data was formatted with), kafka.pid,
#   broker.log (log4j2, the broker's own log), broker.out (JVM stdout/stderr), broker.previous.log
#   (the log of the previous run).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAEMON_NAME=kafka
# shellcheck source=../lib/daemon.sh
source "$SCRIPT_DIR/../lib/daemon.sh"
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.xml"


KAFKA_VERSION=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1)}
CACHE_ROOT=$(abspath "${PAINFLOW_CACHE_DIR:-$REPO_ROOT/.cache}")
LIBS_DIR="$CACHE_ROOT/kafka/$KAFKA_VERSION/libs"
RUN_ROOT=$(abspath "${PAINFLOW_RUN_DIR:-$REPO_ROOT/.run}")
KAFKA_DIR="$RUN_ROOT/kafka"
DATA_DIR="$KAFKA_DIR/data"
PROPS="$KAFKA_DIR/server.properties"
PID_FILE="$KAFKA_DIR/kafka.pid"
LOG_FILE="$KAFKA_DIR/broker.log"
OUT_FILE="$KAFKA_DIR/broker.out"
CLUSTER_ID_FILE="$KAFKA_DIR/cluster.id"
SECURITY_FILE="$KAFKA_DIR/security.sha256"

KAFKA_HOST=127.0.0.1
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_PARTITIONS=${KAFKA_PARTITIONS:-6}
KAFKA_READY_TIMEOUT=${KAFKA_READY_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}
KAFKA_USERS=${KAFKA_USERS:-admin referral assessment scheduling followup}
SCRAM_MECHANISM=SCRAM-SHA-512
# The line KafkaRaftServer logs once the broker is unfenced and serving.
READY_PATTERN='Kafka Server started'


for v in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_PARTITIONS KAFKA_READY_TIMEOUT KAFKA_STOP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ -n $KAFKA_VERSION ]] || die "cannot read <kafka.version> from $POM"
[[ " $KAFKA_USERS " == *" admin "* ]] || die "KAFKA_USERS must include admin (the super user)"

# ---------------------------------------------------------------------------------- helpers




our_pid() { # prints the broker pid from the pid file if that process is alive and is our broker
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(tr -dc '0-9' <"$PID_FILE")
  [[ -n $pid ]] && alive "$pid" || return 1
  # Guard against pid reuse: only ever touch the JVM running our server.properties.
  case "$(cmdline_of "$pid")" in *kafka.Kafka*"$PROPS"*) printf '%s\n' "$pid" ;; *) return 1 ;; esac
}



java_opts() { # JVM options of the broker: its log goes to .run/kafka/broker.log
  printf '%s\n' -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J_CONFIG" "-Dkafka.logs.dir=$KAFKA_DIR"
}

libs_present() {
  [[ -f $LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar ]] && compgen -G "$LIBS_DIR/log4j-core-*.jar" >/dev/null
}

password_of() { # user: KAFKA_PASSWORD_<USER>, else KAFKA_PASSWORD_<USER>_FILE's content, else the dev default
  local var="KAFKA_PASSWORD_${1^^}" file_var="KAFKA_PASSWORD_${1^^}_FILE" password
  if [[ -n ${!var:-} ]]; then password=${!var}
  elif [[ -n ${!file_var:-} ]]; then
    [[ -r ${!file_var} ]] || die "$file_var names ${!file_var}, which cannot be read"
    password=$(<"${!file_var}")
  else password="painflow-dev-$1"
  fi
  # the password goes into a JAAS line and a --add-scram argument: no quotes, commas or spaces
  [[ $password =~ ^[A-Za-z0-9._~+/=@:-]{8,}$ ]] \
    || die "the password of Kafka user $1 must be 8+ characters of [A-Za-z0-9._~+/=@:-]"
  printf '%s' "$password"
}

security_digest() { # what the data directory must have been formatted with (no password in clear)
  local user
  { printf '%s\n' "$SCRAM_MECHANISM"
    for user in $KAFKA_USERS; do printf '%s:%s\n' "$user" "$(password_of "$user")"; done
  } | sha256sum | cut -d' ' -f1
}

show_tail() {
  local f
  for f in "$LOG_FILE" "$OUT_FILE"; do
    [[ -s $f ]] || continue
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
}

# --------------------------------------------------------------------------------- commands

cmd_fetch() {
  if libs_present; then
    log "Kafka $KAFKA_VERSION jars already in $LIBS_DIR"
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) not found; install it (apt-get install maven)"
  mkdir -p "$CACHE_ROOT/kafka"
  exec 8>"$CACHE_ROOT/kafka/.fetch.lock"
  flock -w 600 8 || die "timed out waiting for another fetch"
  if libs_present; then exec 8>&-; log "Kafka $KAFKA_VERSION jars already in $LIBS_DIR"; return 0; fi
  local tmp="$LIBS_DIR.tmp.$$" started=$SECONDS
  rm -rf "$tmp"
  log "resolving Apache Kafka $KAFKA_VERSION from Maven Central into $LIBS_DIR ..."
  # (sed: Maven 3.8 prints bare ANSI resets even with -q and style.color=never)
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      "-Dkafka.version=$KAFKA_VERSION" "-Dkafka.libs.dir=$tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
    rm -rf "$tmp"
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (see the output above)"
  fi
  [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || { rm -rf "$tmp"; die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  # Move into place atomically, so an interrupted fetch never looks like a complete one.
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  exec 8>&-
  log "resolved $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - started)) s"
}

write_properties() {
  local admin
  admin=$(password_of admin)
  mkdir -p "$DATA_DIR"
  (umask 077 && : >"$PROPS.tmp")
  cat >"$PROPS.tmp" <<EOF
# Written by deploy/kafka/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=SASL_PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
inter.broker.listener.name=SASL_PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
# Clients: SCRAM-SHA-512 only (users are formatted into the metadata log, see format_storage).
sasl.enabled.mechanisms=$SCRAM_MECHANISM
sasl.mechanism.inter.broker.protocol=$SCRAM_MECHANISM
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
# The controller cannot use SCRAM (its users live in the log it serves): PLAIN, admin only.
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin" user_admin="$admin";
# Whatever no ACL allows is denied; admin (tests, the CLI, operators) may do everything.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin
log.dirs=$DATA_DIR
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created explicitly (the services' admin code); a typo must not create a topic.
auto.create.topics.enable=false
# The largest record batch a topic accepts unless it sets max.message.bytes itself (ours do, to
# the same value): 1 MiB + 64 KiB, above the producers' 1 MiB max_request_size, so the broker
# never refuses what a producer let through (shared/painflow_shared/events/limits.py).
message.max.bytes=1114112
log.retention.hours=168
EOF
  mv "$PROPS.tmp" "$PROPS"
}

format_storage() { # once per data directory and security digest; the cluster id survives in cluster.id
  local java=$1 id digest user
  local -a opts scram=()
  digest=$(security_digest)
  if [[ -f $DATA_DIR/meta.properties ]]; then
    [[ -s $SECURITY_FILE && $(<"$SECURITY_FILE") == "$digest" ]] && return 0
    wipe_data "formatted without these SCRAM users (an older PLAINTEXT broker, or other users or passwords)"
  fi
  # No log4j2 config for the tool: Log4j's default (errors only, to the console) is what we want.
  opts=(-Djava.awt.headless=true)
  if [[ -s $CLUSTER_ID_FILE ]]; then id=$(<"$CLUSTER_ID_FILE")
  else
    id=$("$java" "${opts[@]}" -cp "$LIBS_DIR/*" kafka.tools.StorageTool random-uuid | tail -n 1)
    [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid returned '$id'"
    printf '%s\n' "$id" >"$CLUSTER_ID_FILE"
  fi
  for user in $KAFKA_USERS; do
    scram+=(--add-scram "$SCRAM_MECHANISM=[name=$user,password=$(password_of "$user")]")
  done
  log "formatting storage in $DATA_DIR (cluster id $id, SCRAM users: $KAFKA_USERS)"
  local out
  if ! out=$("$java" "${opts[@]}" -cp "$LIBS_DIR/*" kafka.tools.StorageTool format -t "$id" -c "$PROPS" \
      "${scram[@]}" 2>&1); then
    printf '%s\n' "$out" | grep -v 'password=' >&2
    die "formatting the storage failed"
  fi
  printf '%s\n' "$digest" >"$SECURITY_FILE"
}

wipe_data() { # reason: delete this script's own data directory; only with no broker running on it
  our_pid >/dev/null && die "refusing to delete $DATA_DIR while the broker runs"
  [[ $DATA_DIR == "$KAFKA_DIR/data" && -f $DATA_DIR/meta.properties ]] || die "$DATA_DIR is not a Kafka data directory of this script"
  log "the local data in $DATA_DIR was $1: deleting it (local dev topics and offsets) and re-formatting"
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR"
}

wait_ready() { # pid started: wait for TCP accept + the broker's "started" line
  local pid=$1 started=$2 deadline=$(( $2 + KAFKA_READY_TIMEOUT ))
  while :; do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      show_tail
      die "the broker (pid $pid) exited during startup"
    fi
    if port_open "$KAFKA_HOST" "$KAFKA_PORT" \
        && grep -qsF "$READY_PATTERN" "$LOG_FILE" "$LOG_FILE".[0-9]*; then
      log "ready on $KAFKA_HOST:$KAFKA_PORT (pid $pid, $((SECONDS - started)) s)"
      return 0
    fi
    if (( SECONDS >= deadline )); then
      show_tail
      die "not ready after ${KAFKA_READY_TIMEOUT} s; the broker (pid $pid) is left running: 'kafka.sh logs' to inspect, 'kafka.sh stop' to stop it"
    fi
    sleep 0.5
  done
}

cmd_start() {
  take_lock "$KAFKA_DIR" $((KAFKA_READY_TIMEOUT + KAFKA_STOP_TIMEOUT + 60))
  local pid java started=$SECONDS
  if pid=$(our_pid); then
    log "already running (pid $pid)"
    grep -qs '^authorizer.class.name=' "$PROPS" \
      || log "warning: it runs without SASL and ACLs (started by an older kafka.sh): 'kafka.sh restart' secures it"
    wait_ready "$pid" "$started"
    return 0
  fi
  if [[ -f $PID_FILE ]]; then
    log "removing stale pid file ($(<"$PID_FILE") is not running)"
    rm -f "$PID_FILE"
  fi
  if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    log "a broker is already listening on $KAFKA_HOST:$KAFKA_PORT that this script did not start (no pid file): reusing it"
    return 0
  fi
  if port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT"; then
    die "controller port $KAFKA_HOST:$KAFKA_CONTROLLER_PORT is taken by another process; set KAFKA_CONTROLLER_PORT"
  fi
  java=$(find_java "Kafka $KAFKA_VERSION")
  cmd_fetch
  write_properties
  format_storage "$java"

  # A fresh log per run, so the readiness check only sees this run's lines.
  rm -f "$LOG_FILE".[0-9]*
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$KAFKA_DIR/broker.previous.log"
  : >"$OUT_FILE"

  local -a opts heap
  mapfile -t opts < <(java_opts)
  read -r -a heap <<<"$KAFKA_HEAP_OPTS"
  log "starting Kafka $KAFKA_VERSION on $KAFKA_HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), data in $DATA_DIR"
  started=$SECONDS
  # setsid: its own session, so it outlives the calling shell and terminal; the inner shell
  # writes its own pid and execs java, so the pid file holds the JVM's pid. 9>&- : the broker
  # must not inherit (and hold) our lock.
  # shellcheck disable=SC2016  # $$/$1/$@ expand in the inner bash
  (cd "$KAFKA_DIR" && exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' painflow-kafka "$PID_FILE" \
      "$java" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError "${opts[@]}" \
      -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS" </dev/null >>"$OUT_FILE" 2>&1 9>&- &)
  local _
  for _ in $(seq 1 50); do [[ -s $PID_FILE ]] && break; sleep 0.1; done
  [[ -s $PID_FILE ]] || { show_tail; die "the broker did not start (no pid file)"; }
  pid=$(<"$PID_FILE")
  wait_ready "$pid" "$started"
}

cmd_stop() {
  take_lock "$KAFKA_DIR" $((KAFKA_READY_TIMEOUT + KAFKA_STOP_TIMEOUT + 60))
  local pid
  if ! pid=$(our_pid); then
    if [[ -f $PID_FILE ]]; then
      log "not running (removing stale pid file for $(<"$PID_FILE"))"
      rm -f "$PID_FILE"
    else
      log "not running (no pid file)"
    fi
    if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
      log "note: something listens on $KAFKA_HOST:$KAFKA_PORT that this script did not start; left alone"
    fi
    return 0
  fi
  terminate "$pid" "$KAFKA_STOP_TIMEOUT"
  rm -f "$PID_FILE"
}

cmd_status() {
  local pid
  if pid=$(our_pid); then
    if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
      log "running (pid $pid), bootstrap $KAFKA_HOST:$KAFKA_PORT, data $DATA_DIR, log $LOG_FILE"
    else
      log "starting (pid $pid), not yet accepting connections on $KAFKA_HOST:$KAFKA_PORT"
    fi
    return 0
  fi
  if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    log "something listens on $KAFKA_HOST:$KAFKA_PORT (not started by this script)"
    return 0
  fi
  log "not running"
  return 3
}

cmd_logs() { show_logs "$LOG_FILE" "$@"; }

cmd_reset() {
  cmd_stop
  log "deleting $DATA_DIR and the cluster id"
  rm -rf "$DATA_DIR" "$CLUSTER_ID_FILE" "$PROPS" "$SECURITY_FILE"
}

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; }

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  reset) cmd_reset ;;
  bootstrap) printf '%s:%s\n' "$KAFKA_HOST" "$KAFKA_PORT" ;;
  users) printf '%s\n' $KAFKA_USERS ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac

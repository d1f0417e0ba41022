# Helpers shared by the scripts that run the project's local servers (deploy/kafka/kafka.sh,
# deploy/tracing/zipkin.sh, deploy/keycloak/keycloak.sh, deploy/postgres/postgres.sh). Sourced,
# never run; the sourcing script sets DAEMON_NAME first (the prefix of its messages).

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

log() { printf '%s: %s\n' "$DAEMON_NAME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$DAEMON_NAME" "$*" >&2; exit 1; }

port_open() { # host port: true if something accepts TCP connections there
  # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

alive() { # pid: true if the process exists and is not a zombie
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/stat ]]; then
    state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || true
    [[ $state != Z ]] || return 1
  fi
  return 0
}

cmdline_of() { # pid: the process's command line
  if [[ -r /proc/$1/cmdline ]]; then tr '\0' ' ' <"/proc/$1/cmdline"; else ps -p "$1" -o args= 2>/dev/null; fi
}

take_lock() { # dir seconds: serialise start/stop between concurrent callers (make targets, CI, tests)
  mkdir -p "$1"
  exec 9>"$1/.lock"
  flock -w "$2" 9 || die "timed out waiting for $1/.lock"
}

find_java() { # what: a Java 17+ to run it with, or die naming what needs it
  local java major
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then java=$JAVA_HOME/bin/java
  else java=$(command -v java) || die "java not found: $1 needs Java 17+ (apt-get install openjdk-17-jre-headless)"
  fi
  major=$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  [[ -n $major && $major -ge 17 ]] || die "$java is Java ${major:-?}; $1 needs Java 17+"
  printf '%s\n' "$java"
}

show_logs() { # file [-f|N]: the last N (200) lines of a server's log, or follow it
  local file=$1; shift
  [[ -f $file ]] || die "no log yet ($file)"
  case "${1:-}" in
    -f|--follow) exec tail -n 50 -F "$file" ;;
    '') tail -n 200 "$file" ;;
    *) [[ $1 =~ ^[0-9]+$ ]] || die "usage: $DAEMON_NAME.sh logs [-f|N]"; tail -n "$1" "$file" ;;
  esac
}

stop_ours() { # timeout [group]: terminate what the sourcing script's our_pid names (its
  # PID_FILE's process, if it is that script's server), or say nothing of ours is running
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    log "not running (not started by this script)"
    return 0
  fi
  terminate "$pid" "$1" "${2:-}"
  rm -f "$PID_FILE"
}

terminate() { # pid timeout [group]: TERM, wait up to timeout s, then KILL (its process group
  # when the third argument is "group", for a launcher setsid made a group leader); logs the time
  local pid=$1 timeout=$2 target=$1 started=$SECONDS _
  [[ ${3:-} == group ]] && target="-$1"
  log "stopping (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && (( SECONDS - started < timeout )); do sleep 0.2; done
  if alive "$pid"; then
    log "still running after ${timeout} s: sending KILL to ${target#-}${3:+ (its process group)}"
    kill -KILL -- "$target" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.2; done
    alive "$pid" && die "pid $pid survived KILL"
  fi
  log "stopped ($((SECONDS - started)) s)"
}

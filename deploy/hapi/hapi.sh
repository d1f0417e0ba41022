#!/usr/bin/env bash
# HAPI FHIR's R4 JPA server, the Java reference of `make bench-hapi` (issue 12), built from
# Maven Central artifacts (deploy/hapi/pom.xml) into .cache/hapi/<version>/ once.
#
# Usage: deploy/hapi/hapi.sh COMMAND
#   build       compile HapiServer.java and copy its dependencies (only if absent)
#   run         build if needed, then exec the server in the foreground (the caller keeps its
#               PID and stops it with TERM); needs HAPI_JDBC_URL
#
# Environment:
#   HAPI_PORT (8090), HAPI_JDBC_URL (jdbc:postgresql://127.0.0.1:55432/DB), HAPI_JDBC_USER and
#   HAPI_JDBC_PASSWORD (painflow), HAPI_POOL (20 connections), HAPI_HEAP_OPTS (-Xms512m -Xmx1536m),
#   PAINFLOW_CACHE_DIR (.cache), JAVA_HOME
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAEMON_NAME=hapi
# shellcheck source=../lib/daemon.sh
source "$SCRIPT_DIR/../lib/daemon.sh"
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
POM="$SCRIPT_DIR/pom.xml"
HAPI_VERSION=$(sed -n 's:.*<hapi.version>\(.*\)</hapi.version>.*:\1:p' "$POM" | head -n 1)
OUT=$(abspath "${PAINFLOW_CACHE_DIR:-$REPO_ROOT/.cache}")/hapi/$HAPI_VERSION
SOURCE="$SCRIPT_DIR/src/main/java/org/painflow/hapi/HapiServer.java"

cmd_build() {
  if [[ -s $OUT/app.jar && -d $OUT/libs && $OUT/app.jar -nt $SOURCE && $OUT/app.jar -nt $POM ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) not found; install it (apt-get install maven)"
  log "building the HAPI FHIR $HAPI_VERSION reference server into $OUT (first time: ~300 MB of jars)"
  mkdir -p "$OUT"
  mvn -B -q -Dstyle.color=never -f "$POM" -Dhapi.out="$OUT" package dependency:copy-dependencies \
    || die "the Maven build failed (see above)"
  rm -rf "$OUT/build"
}

cmd_run() {
  cmd_build
  [[ -n ${HAPI_JDBC_URL:-} ]] || die "HAPI_JDBC_URL is not set"
  local java
  java=$(find_java "the HAPI FHIR server")
  # shellcheck disable=SC2086  # HAPI_HEAP_OPTS is a list of options
  exec "$java" ${HAPI_HEAP_OPTS:--Xms512m -Xmx1536m} -XX:+UseParallelGC \
    -Dhapi.port="${HAPI_PORT:-8090}" -Dhapi.jdbc.url="$HAPI_JDBC_URL" \
    -Dhapi.jdbc.user="${HAPI_JDBC_USER:-painflow}" -Dhapi.jdbc.password="${HAPI_JDBC_PASSWORD:-painflow}" \
    -Dhapi.pool="${HAPI_POOL:-20}" -Dlogback.configurationFile="$SCRIPT_DIR/logback.xml" \
    -cp "$OUT/app.jar:$OUT/libs/*" org.painflow.hapi.HapiServer
}

case "${1:-}" in
  build) cmd_build ;;
  run) cmd_run ;;
  *) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# What the browser tests need, installed idempotently (make test runs this through infra-up):
# Debian's Chromium (Playwright drives it by its path: no browser download) and axe-core from
# the npm registry, pinned, into .cache/browser (git-ignored). Needs root for apt-get on a fresh
# machine, as PostgreSQL's install does.
set -euo pipefail
AXE_VERSION=4.14.1
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
CACHE="$ROOT/.cache/browser"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
fi

if [ ! -f "$CACHE/node_modules/axe-core/axe.min.js" ] || \
   ! grep -q "\"version\": \"$AXE_VERSION\"" "$CACHE/node_modules/axe-core/package.json"; then
  echo "installing axe-core $AXE_VERSION from the npm registry into .cache/browser"
  mkdir -p "$CACHE"
  npm install --prefix "$CACHE" --no-audit --no-fund --no-save --silent "axe-core@$AXE_VERSION"
fi

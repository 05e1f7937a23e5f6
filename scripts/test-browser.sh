#!/usr/bin/env bash
# Installs what the browser tests need (tests/awareness/test_axe.py, tests/dashboard/test_browser.py):
#   Debian's chromium (the test drives /usr/bin/chromium; no browser download), and
#   axe-core + playwright-core from the npm registry into the git-ignored .cache/node/.
# Idempotent: a second run finds everything installed and takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NODE_DIR="$ROOT/.cache/node"
AXE_VERSION=${DIJKWACHT_TEST_AXE_VERSION:-4.14.1}
PLAYWRIGHT_VERSION=${DIJKWACHT_TEST_PLAYWRIGHT_VERSION:-1.65.1}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_install chromium fonts-dejavu-core
# Node.js may come from elsewhere than Debian (its npm then conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || apt_install nodejs npm

if [ ! -f "$NODE_DIR/node_modules/axe-core/package.json" ] ||
    [ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ] ||
    ! grep -q "\"version\": \"$AXE_VERSION\"" "$NODE_DIR/node_modules/axe-core/package.json" ||
    ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$NODE_DIR/node_modules/playwright-core/package.json"; then
    say "installing axe-core $AXE_VERSION and playwright-core $PLAYWRIGHT_VERSION into .cache/node"
    mkdir -p "$NODE_DIR"
    # playwright-core never downloads a browser; the test points it at /usr/bin/chromium.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$NODE_DIR" --no-audit --no-fund \
        --silent "axe-core@$AXE_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi

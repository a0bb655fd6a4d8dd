#!/usr/bin/env bash
# The one test command (README, .ci/run): make a virtualenv, install what the tests need
# (Python packages, and Debian's docker-registry, tmux, zsh and fish when missing), then run
# ruff, mypy (strict), the import-linter layer contracts and every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${CACHETUI_VENV:-.venv}
PYTHON=${PYTHON:-python3}

need_apt=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v zsh >/dev/null 2>&1 || need_apt+=(zsh)   # the completion scripts run in each shell
command -v fish >/dev/null 2>&1 || need_apt+=(fish)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing ${need_apt[*]} with apt-get" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "warning: ${need_apt[*]} missing and not root; registry/tmux/shell tests will fail" >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# (this machine's pip config names extra index folders that may not exist: hide those warnings)
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 \
    | { grep -v "^WARNING: Location" || true; }

# Azurite (the Azure Blob emulator) from npm, pinned: later versions need a newer Node than
# Debian's. Installed into the git-ignored .cache/node of this checkout.
AZURITE_VERSION=3.35.0
if ! grep -qs "\"version\": \"$AZURITE_VERSION\"" .cache/node/node_modules/azurite/package.json; then
    if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing nodejs and npm with apt-get" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
    mkdir -p .cache/node
    npm install --prefix .cache/node --no-audit --no-fund --silent "azurite@$AZURITE_VERSION" >&2
fi

echo "== ruff" >&2
"$VENV/bin/ruff" check cachetui tests bench scripts
echo "== mypy --strict" >&2
"$VENV/bin/mypy"
echo "== lint-imports (layer contracts in pyproject.toml)" >&2
"$VENV/bin/lint-imports"
echo "== pytest" >&2
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$status"

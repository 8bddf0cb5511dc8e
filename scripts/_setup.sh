# Shared by run.sh and test.sh: make .venv with Python 3.11+ and install sipflask into it.
# Sourced, not run. EXTRAS (e.g. "[test]") picks optional dependencies.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "sipflask needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi

apt_install() {
  # Install Debian packages when we can (root + apt); otherwise say what is missing.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "note: please install the Debian packages: $* (needs root)" >&2
    return 1
  fi
}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv
    "$PYTHON" -m venv .venv
  fi
fi
pip_install() {
  # Quiet when it works; the whole log when it doesn't.
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check "$@" > .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    echo "pip install $* failed" >&2
    exit 1
  fi
}
echo "==> installing sipflask${EXTRAS:-} into .venv"
pip_install --upgrade pip
pip_install -e ".${EXTRAS:-}"
export FLASK_APP=sipflask

#!/usr/bin/env bash
# One command from a fresh clone to the whole test suite:
#   ./scripts/test.sh [pytest args]
# Runs on SQLite, and on PostgreSQL too when SIPFLASK_TEST_DATABASE_URL is set, e.g.
#   SIPFLASK_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test ./scripts/test.sh
# As root it installs the Debian packages the tests drive (sipp and kamailio for SIP, dnsmasq for
# DNS, chromium for the browser).
EXTRAS="[test]"
source "$(dirname "$0")/_setup.sh"

missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(nodejs npm)
PATH="$PATH:/usr/sbin:/sbin"  # dnsmasq and kamailio install there
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
command -v kamailio >/dev/null || missing+=(kamailio)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}" || echo "note: tests needing ${missing[*]} will be skipped" >&2
fi

# Prism mocks Twilio's REST API from Twilio's own OpenAPI spec for the provisioning tests;
# the version is pinned in package-lock.json.
if command -v npm >/dev/null && [ ! -x node_modules/.bin/prism ]; then
  echo "==> npm ci (Prism, for the Twilio provisioning tests)"
  npm ci --no-audit --no-fund --loglevel=error || echo "note: npm ci failed; the Prism tests will skip" >&2
fi

echo "==> installing the example plugins (plugins/*)"
for plugin in plugins/*/; do
  pip_install -e "$plugin"
done

# One pytest process per CPU plus one (pytest-xdist): many tests wait on a server, a browser or a
# SIP peer, and the extra worker uses the CPU meanwhile. SIPFLASK_TEST_WORKERS=0 runs them all
# in this one. loadgroup keeps the tests sharing Prism or Chromium in one worker (tests/conftest.py).
workers=${SIPFLASK_TEST_WORKERS:-$(( $(nproc) + 1 ))}
echo "==> pytest${SIPFLASK_TEST_DATABASE_URL:+ (SQLite and PostgreSQL)}, $workers worker(s)"
exec .venv/bin/python -m pytest -n "$workers" --dist loadgroup "$@"

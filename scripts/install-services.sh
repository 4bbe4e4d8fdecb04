#!/bin/sh
# Debian's PostgreSQL and Redis for the tests that run Choreo past one machine (issue 13): the
# fixtures (tests/support/postgres.py, the Redis one) start their own servers from these
# binaries in temporary directories; nothing is started here, and no system service is used.
# Idempotent and quiet: does nothing when both are installed. apt-get update only if the
# install fails without it.
set -eu

have_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
have_redis() { command -v redis-server >/dev/null 2>&1; }

PACKAGES=""
have_postgres || PACKAGES="$PACKAGES postgresql"
have_redis || PACKAGES="$PACKAGES redis-server"
[ -z "$PACKAGES" ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-services.sh: missing$PACKAGES and cannot install it (needs root and apt-get); run:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends$PACKAGES" >&2
    exit 1
fi

echo "install-services.sh: installing$PACKAGES (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
# the packages' own services are not wanted (the tests start their servers): policy-rc.d says no
POLICY=/usr/sbin/policy-rc.d
MADE_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod +x "$POLICY" && MADE_POLICY=1
fi
# shellcheck disable=SC2086  # the list is meant to split
if ! apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi
[ "$MADE_POLICY" -eq 1 ] && rm -f "$POLICY"
have_postgres && have_redis

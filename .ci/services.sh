#!/usr/bin/env bash
# Makes sure the services the test suite talks to are there:
#   - Redis on 127.0.0.1:6379
#   - NATS (with JetStream) on 127.0.0.1:4222
#   - chromium for the browser test (without it that test skips, or fails
#     under CI)
#   - Node.js 20+ and npm for the client package's tests (clients/js)
# A service that already answers is left alone (never restarted or
# reconfigured). A missing one is installed from Debian's packages when its
# binary is absent, then started in the background and waited for.
# Used by .ci/run and by `make services`. Needs root to install packages.
set -euo pipefail

# Where logs and the NATS JetStream store of services started here go.
CI_TMP=${WSHUB_CI_TMP:-${TMPDIR:-/tmp}}
WAIT_SECONDS=${WSHUB_CI_WAIT_SECONDS:-30}
# The ports the tests use; overridable only to try this script on spare ports.
REDIS_PORT=${WSHUB_CI_REDIS_PORT:-6379}
NATS_PORT=${WSHUB_CI_NATS_PORT:-4222}
apt_updated=0

log() { printf 'services: %s\n' "$*"; }
warn() { printf 'services: WARNING: %s\n' "$*" >&2; }
die() {
	printf 'services: ERROR: %s\n' "$*" >&2
	exit 1
}

# apt_install PKG... installs Debian packages, running `apt-get update` once.
apt_install() {
	if [[ $apt_updated -eq 0 ]]; then
		log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
		apt_updated=1
	fi
	log "apt-get install -y $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# redis_up succeeds when Redis at 127.0.0.1:REDIS_PORT answers PING with PONG.
redis_up() {
	if command -v redis-cli >/dev/null 2>&1; then
		[[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
		return
	fi
	# No client: speak the inline protocol over bash's /dev/tcp.
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "PING\r\n" >&3 && head -c 5 <&3' _ "$REDIS_PORT" 2>/dev/null |
		grep -q '+PONG'
}

# nats_info prints the INFO line NATS sends on connect (fails when none).
nats_info() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -n 1 <&3' _ "$NATS_PORT" 2>/dev/null | grep '^INFO '
}

nats_up() { nats_info >/dev/null; }

# wait_for NAME CHECK waits up to WAIT_SECONDS for CHECK to succeed.
wait_for() {
	local name=$1 check=$2 i
	for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
		if "$check"; then
			log "$name is up"
			return 0
		fi
		sleep 0.2
	done
	return 1
}

ensure_redis() {
	# The fault tests start their own redis-server, so the binary must be
	# here even when a server already answers.
	if ! command -v redis-server >/dev/null 2>&1; then
		apt_install redis-server || die "could not install redis-server"
	fi
	if redis_up; then
		log "redis already answers on 127.0.0.1:$REDIS_PORT"
		return 0
	fi
	log "starting redis-server on 127.0.0.1:$REDIS_PORT"
	redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
		--save "" --appendonly no \
		--pidfile "$CI_TMP/wshub-ci-redis-$REDIS_PORT.pid" --logfile "$CI_TMP/wshub-ci-redis-$REDIS_PORT.log" ||
		die "redis-server did not start (log: $CI_TMP/wshub-ci-redis-$REDIS_PORT.log)"
	wait_for redis redis_up ||
		die "redis does not answer on 127.0.0.1:$REDIS_PORT after ${WAIT_SECONDS}s (log: $CI_TMP/wshub-ci-redis-$REDIS_PORT.log)"
}

ensure_nats() {
	# The fault tests start their own /usr/sbin/nats-server, so the binary
	# must be here even when a server already answers.
	local bin
	bin=$(command -v nats-server || true)
	[[ -z $bin && -x /usr/sbin/nats-server ]] && bin=/usr/sbin/nats-server
	if [[ -z $bin ]]; then
		apt_install nats-server || die "could not install nats-server"
		bin=$(command -v nats-server || echo /usr/sbin/nats-server)
	fi
	if nats_up; then
		log "nats already answers on 127.0.0.1:$NATS_PORT"
	else
		log "starting $bin on 127.0.0.1:$NATS_PORT with JetStream"
		# Runs on after this script exits, like the daemonized Redis above.
		nohup "$bin" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$CI_TMP/wshub-ci-nats-$NATS_PORT" \
			>"$CI_TMP/wshub-ci-nats-$NATS_PORT.log" 2>&1 </dev/null &
		log "nats-server pid $!"
		wait_for nats nats_up ||
			die "nats does not answer on 127.0.0.1:$NATS_PORT after ${WAIT_SECONDS}s (log: $CI_TMP/wshub-ci-nats-$NATS_PORT.log)"
	fi
	if ! nats_info | grep -q '"jetstream":true'; then
		warn "the NATS server on 127.0.0.1:$NATS_PORT runs without JetStream; tests that need it will fail"
	fi
}

ensure_chromium() {
	if command -v chromium >/dev/null 2>&1; then
		log "chromium present: $(chromium --version 2>/dev/null || echo 'version unknown')"
		return 0
	fi
	if apt_install chromium && command -v chromium >/dev/null 2>&1; then
		log "chromium installed: $(chromium --version 2>/dev/null || echo 'version unknown')"
	else
		warn "chromium could not be installed; the browser test fails under CI without it"
	fi
}

ensure_redis
ensure_nats
ensure_chromium

# ensure_node makes sure node (20 or newer) and npm are there: make test runs
# the client package's tests with them.
ensure_node() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		apt_install nodejs npm || warn "Node.js could not be installed; make test fails without it"
	fi
	if command -v node >/dev/null 2>&1; then
		local major
		major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
		log "node $(node --version) present"
		if ((major < 20)); then
			warn "node $(node --version) is older than 20; the client package's tests need 20 or newer"
		fi
	fi
}
ensure_node

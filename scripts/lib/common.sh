# Shared by scripts/run, scripts/test and scripts/bench. Sourced, not executed.
#
# - ensure_venv: .venv with the project and its dev extras (re-installed when
#   pyproject.toml changes);
# - ensure_debs: Debian packages via apt-get when a command is missing;
# - start_services: private PostgreSQL (data in a fresh temporary directory outside the
#   checkout) and Redis (under .relay/) on free ports when DATABASE_URL / REDIS_URL are
#   unset, stopped again on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="$ROOT/.relay"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
mkdir -p "$STATE_DIR"

say() { printf '\033[1;34m[relay]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[relay]\033[0m %s\n' "$*" >&2; exit 1; }

_apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "missing $* and no apt-get: install them yourself"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "$_apt_updated" -eq 0 ]; then
    say "apt-get update"
    $sudo apt-get update -qq >/dev/null
    _apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

ensure_debs() {
  local need=()
  if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then need+=(redis-server); fi
  if [ -z "${DATABASE_URL:-}" ] && [ -z "$(pg_bindir)" ]; then need+=(postgresql); fi
  for extra in "$@"; do
    case "$extra" in
      docker-compose) command -v docker-compose >/dev/null || need+=(docker-compose) ;;
      chromium) [ -x /usr/bin/chromium ] || need+=(chromium) ;;  # the console's browser tests
    esac
  done
  if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
}

ensure_venv() {
  local stamp="$VENV/.relay-installed"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -x "$PY" ]; then
    local base
    base="$(command -v python3.11 || command -v python3 || true)"
    [ -n "$base" ] || die "python3.11 not found"
    "$base" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
      || die "relay needs Python 3.11 ($base is $("$base" --version))"
    say "creating .venv"
    "$base" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing relay and its dev extras into .venv"
    "$PY" -m pip install -q --disable-pip-version-check -e "$ROOT[dev]" 2>&1 \
      | grep -v -e '^WARNING: Location' -e '^$' >&2 || true
    "$PY" -c 'import relay, celery, psycopg' || die "installing the project failed"
    echo "$want" > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

free_port() {
  "${PY:-python3}" - <<'PYEOF'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PYEOF
}

_cleanup_fns=()
on_exit() { _cleanup_fns+=("$1"); }
_run_cleanups() {
  local i
  for ((i=${#_cleanup_fns[@]}-1; i>=0; i--)); do eval "${_cleanup_fns[$i]}" || true; done
}
trap _run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_private_postgres() {
  local bindir port dir owner
  bindir="$(pg_bindir)"
  [ -n "$bindir" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
  port="$(free_port)"
  # Data and socket live in a fresh directory outside the checkout: as root the server runs
  # as 'postgres', which may not enter the clone (root's home, a 0700 mktemp -d folder).
  local tmp="${TMPDIR:-/tmp}"
  [ "$(id -u)" -ne 0 ] || tmp=/tmp   # a root TMPDIR may be closed to 'postgres' as well
  dir="$(mktemp -d "$tmp/relay-pg.XXXXXX")"
  owner=""
  # PostgreSQL refuses to run as root; CI runs as root. Run it as 'postgres' then.
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent postgres
    chown postgres:postgres "$dir"
    owner="runuser -u postgres --"
  fi
  # run from $dir: 'postgres' may not enter our working directory either
  (cd "$dir" && $owner "$bindir/initdb" -D "$dir/data" -A trust -U postgres) \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  (cd "$dir" && $owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
    start >/dev/null) || { cat "$dir/log" >&2; die "PostgreSQL failed to start"; }
  on_exit "(cd '$dir' && $owner '$bindir/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null 2>&1); rm -rf '$dir'"
  export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  say "private PostgreSQL on 127.0.0.1:$port (data in $dir, removed on exit)"
}

start_private_redis() {
  local port dir
  port="$(free_port)"
  dir="$(mktemp -d "$STATE_DIR/redis.XXXXXX")"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
    || die "redis-server failed to start"
  on_exit "kill \$(cat '$dir/redis.pid' 2>/dev/null) 2>/dev/null; sleep 0.2; rm -rf '$dir'"
  export REDIS_URL="redis://127.0.0.1:$port/0"
  local i
  for i in $(seq 50); do
    "$PY" -c "import redis,sys; redis.Redis.from_url('$REDIS_URL').ping()" 2>/dev/null && break
    sleep 0.1
  done
  say "private Redis on 127.0.0.1:$port (no persistence)"
}

start_services() {
  if [ -n "${DATABASE_URL:-}" ]; then say "using DATABASE_URL from the environment"
  else start_private_postgres; fi
  if [ -n "${REDIS_URL:-}" ]; then say "using REDIS_URL from the environment"
  else start_private_redis; fi
}

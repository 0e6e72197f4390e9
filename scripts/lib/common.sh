# shellcheck shell=bash
# Shared helpers for scripts/*: source it, don't run it.
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

PG_BIN=/usr/lib/postgresql/15/bin

# Absolute path of the repository root (the folder holding scripts/).
harmony_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

log() {
  printf '[%s] %s\n' "$(basename "$0")" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

# build_project [BUILD_DIR]: configures once (RelWithDebInfo, Ninja) and builds everything.
# An existing build dir keeps its own settings; ninja re-runs cmake when a CMakeLists changes.
build_project() {
  local root build_dir
  root="$(harmony_root)"
  build_dir="${1:-$root/build}"
  # One cache per machine, outside the clone: CI builds a fresh clone on the same machine, and
  # a cache inside the clone would start cold every time.
  export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/harmony-ccache}"
  # The paths differ between clones; hash relative to the source tree so they still hit.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
  # Debug info would otherwise tie every object to the clone's directory.
  export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
  mkdir -p "$CCACHE_DIR"
  if [[ ! -f "$build_dir/build.ninja" ]]; then
    log "configuring $build_dir"
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  log "building $build_dir"
  ninja -C "$build_dir"
}

# True when something listens on the TCP port on this machine.
port_in_use() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# Prints a TCP port that nothing listens on (random, so parallel runs rarely pick the same one).
free_port() {
  local port tries
  for ((tries = 0; tries < 200; tries++)); do
    port=$((20000 + RANDOM % 40000))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  die "no free TCP port found"
}

# The postgres user must be able to reach DIR: grant o+x on any parent that lacks it.
pg_make_reachable() {
  local dir="$1"
  local parent="$dir"
  while [[ "$parent" != "/" ]]; do
    parent="$(dirname "$parent")"
    if ! runuser -u postgres -- test -x "$parent" 2>/dev/null; then
      log "granting o+x on $parent so that PostgreSQL (user postgres) can reach $dir"
      chmod o+x "$parent"
    fi
  done
}

pg_running() {
  local dir="$1"
  [[ -f "$dir/data/PG_VERSION" ]] &&
    (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1)
}

# pg_start DIR PORT: a throwaway PostgreSQL 15 cluster in DIR/data, unix socket in DIR, no TCP.
# Reuses an existing cluster and does nothing when it already runs.
# Connect with: host=DIR port=PORT user=postgres (trust authentication).
pg_start() {
  local dir="$1" port="$2"
  [[ "$dir" == /* ]] || die "pg_start: DIR must be absolute: $dir"
  # A unix socket path is limited to 107 bytes.
  ((${#dir} + 20 < 107)) || die "pg_start: path too long for a unix socket: $dir"
  if pg_running "$dir"; then
    return 0
  fi
  mkdir -p "$dir"
  chown postgres: "$dir"
  chmod 0755 "$dir"
  pg_make_reachable "$dir"
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    (cd / && runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust \
      --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1) ||
      { cat "$dir/initdb.log" >&2; die "initdb failed in $dir"; }
  fi
  (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-k $dir -p $port -c listen_addresses='' -c fsync=off -c max_connections=300" start >/dev/null) ||
    { tail -n 30 "$dir/log" >&2 || true; die "PostgreSQL failed to start in $dir"; }
}

# pg_stop DIR: stops the cluster if it runs.
pg_stop() {
  local dir="$1"
  if pg_running "$dir"; then
    (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null)
  fi
}

# wait_for_http URL TIMEOUT_SECONDS: waits until URL answers 200.
wait_for_http() {
  local url="$1" timeout="$2" code deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)"
    [[ "$code" == "200" ]] && return 0
    sleep 0.2
  done
  return 1
}

# pid_alive PIDFILE NAME: the process in PIDFILE runs and is NAME (guards against a reused PID).
pid_alive() {
  local pidfile="$1" name="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]]
}

# stop_pid PIDFILE NAME: SIGTERM, wait up to 10 s, then SIGKILL; removes PIDFILE.
stop_pid() {
  local pidfile="$1" name="$2" pid i
  if pid_alive "$pidfile" "$name"; then
    pid="$(<"$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name ($pid) ignored SIGTERM for 10 s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name ($pid) stopped"
  fi
  rm -f "$pidfile"
}

#!/usr/bin/env bash
# Autobahn|Testsuite: runs the suite's fuzzing client (every case) against
# examples/echo and fails on any FAILED or NON-STRICT case.
#
#   scripts/autobahn.sh          # skips, loudly, where no Python 2.7 is found
#   CI=1 scripts/autobahn.sh     # no Python 2.7 is a failure instead
#
# The suite (`wstest`, autobahntestsuite on PyPI) runs only on Python 2.7. It
# is installed, with every dependency pinned below, into a virtualenv under the
# cargo target directory (target/autobahn/venv) and reused while the pins and
# the interpreter are unchanged. Reports go to target/autobahn/reports/servers
# (index.html there for a browser).
#
# Environment:
#   AUTOBAHN_PYTHON   the Python 2.7 to use (default: looked for under pyenv,
#                     then python2.7 / python2 on PATH)
#   AUTOBAHN_CASES    JSON list of case patterns (default ["*"]: all cases;
#                     with fewer, the case-count check is skipped)
#   AUTOBAHN_TIMEOUT  seconds the fuzzing client may run (default 2400)
#   CI                when set (not "0"/"false"), a missing Python 2.7 fails
set -euo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS

# Cases autobahntestsuite 25.10.1 runs for ["*"].
EXPECTED_CASES=517
SUITE_VERSION=25.10.1
# The suite and all it pulls in, at versions that still run on Python 2.7.
SUITE_PINS=(
  "autobahntestsuite==$SUITE_VERSION"
  autobahn==0.10.9
  Twisted==19.10.0
  zope.interface==4.6.0
  txaio==2.1.0
  incremental==16.10.1
  pyOpenSSL==19.1.0
  cryptography==3.3.2
  cffi==1.15.1
  pycparser==2.21
  enum34==1.1.10
  ipaddress==1.0.23
  service-identity==18.1.0
  pyasn1==0.5.1
  pyasn1-modules==0.3.0
  attrs==21.4.0
  Automat==22.10.0
  constantly==15.1.0
  hyperlink==21.0.0
  idna==2.10
  typing==3.10.0.0
  PyHamcrest==1.10.1
  six==1.16.0
  Jinja2==2.11.3
  MarkupSafe==1.1.1
  Werkzeug==1.0.1
  klein==17.10.0
  unittest2==1.1.0
  traceback2==1.4.0
  linecache2==1.0.0
  argparse==1.4.0
  wsaccel==0.6.6
  ujson==2.0.3
  setuptools==44.0.0
)
# virtualenv's last line that runs on Python 2.7, to make the environment.
VIRTUALENV_PINS=(
  virtualenv==20.15.1
  distlib==0.4.4
  filelock==3.2.1
  platformdirs==2.0.2
  six==1.17.0
  importlib_metadata==2.1.3
  importlib_resources==3.3.1
  zipp==1.2.0
  pathlib2==2.3.7.post1
  scandir==1.10.0
  configparser==4.0.2
  contextlib2==0.6.0.post1
  singledispatch==3.7.0
  typing==3.10.0.0
)

say() { printf 'autobahn: %s\n' "$*"; }
die() { printf 'autobahn: error: %s\n' "$*" >&2; exit 1; }
ci_set() { [[ -n "${CI:-}" && "${CI}" != 0 && "${CI}" != false ]]; }
is_py27() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)' >/dev/null 2>&1
}

# --- Python 2.7 -------------------------------------------------------------
find_python27() {
  local root candidate
  local -a roots=() candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    roots+=("$(pyenv root 2>/dev/null || true)")
  fi
  roots+=("${PYENV_ROOT:-}" "${HOME:+$HOME/.pyenv}")
  for root in "${roots[@]}"; do
    [[ -n "$root" && -d "$root/versions" ]] || continue
    while IFS= read -r candidate; do
      candidates+=("$candidate")
    done < <(ls -d "$root"/versions/2.7.*/bin/python 2>/dev/null | sort -rV)
  done
  # A pyenv shim on PATH answers only where 2.7 is selected; is_py27 weeds
  # out the ones that don't run.
  for candidate in python2.7 python2; do
    if command -v "$candidate" >/dev/null 2>&1; then
      candidates+=("$(command -v "$candidate")")
    fi
  done
  for candidate in "${candidates[@]}"; do
    if is_py27 "$candidate"; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

if [[ -n "${AUTOBAHN_PYTHON:-}" ]]; then
  is_py27 "$AUTOBAHN_PYTHON" || die "AUTOBAHN_PYTHON=$AUTOBAHN_PYTHON is not a working Python 2.7"
  PY=$AUTOBAHN_PYTHON
elif ! PY=$(find_python27); then
  how="install CPython 2.7 (e.g. 'pyenv install 2.7.18') or set AUTOBAHN_PYTHON=/path/to/python2.7"
  if ci_set; then
    die "Autobahn|Testsuite cannot run: no Python 2.7 found (CI is set, so this fails); $how"
  fi
  echo "!!!! Autobahn|Testsuite SKIPPED: no Python 2.7 found; to enable it, $how, then rerun scripts/autobahn.sh !!!!"
  exit 0
fi
export PYTHONNOUSERSITE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV
say "Python 2.7: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

# --- where things go ------------------------------------------------------------
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
  "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
AB="$TARGET_DIR/autobahn"
VENV="$AB/venv"
REPORTS="$AB/reports/servers"
mkdir -p "$AB"

# One run at a time per target directory (they share the venv and reports).
exec 9>"$AB/.lock"
if ! flock -n 9; then
  say "another Autobahn run holds $AB/.lock; waiting"
  flock 9
fi

# --- the suite, installed once ------------------------------------------------
SETUP_START=$SECONDS
stamp() {
  printf 'python %s\n' "$("$PY" -c 'import sys; print(sys.version)' | head -n 1) at $PY"
  printf '%s\n' "${VIRTUALENV_PINS[@]}" -- "${SUITE_PINS[@]}"
}
WANT_STAMP=$(stamp)
suite_works() {
  "$VENV/bin/wstest" --help >/dev/null 2>&1 &&
    "$VENV/bin/python" -c 'import autobahntestsuite, autobahn, twisted, wsaccel' >/dev/null 2>&1 &&
    [[ "$("$VENV/bin/python" -c 'import pkg_resources; print(pkg_resources.get_distribution("autobahntestsuite").version)' 2>/dev/null)" == "$SUITE_VERSION" ]]
}
if [[ -f "$VENV/.pins" && "$(cat "$VENV/.pins")" == "$WANT_STAMP" ]] && suite_works; then
  say "reusing autobahntestsuite $SUITE_VERSION in $VENV"
else
  say "installing autobahntestsuite $SUITE_VERSION into $VENV (log: $AB/install.log)"
  rm -rf "$VENV" "$AB/virtualenv"
  : >"$AB/install.log"
  install_failed() {
    tail -n 40 "$AB/install.log" >&2
    die "installing the suite failed (full log: $AB/install.log)"
  }
  "$PY" -m pip install --target "$AB/virtualenv" "${VIRTUALENV_PINS[@]}" \
    >>"$AB/install.log" 2>&1 || install_failed
  PYTHONPATH="$AB/virtualenv" "$PY" -m virtualenv --no-download "$VENV" \
    >>"$AB/install.log" 2>&1 || install_failed
  "$VENV/bin/python" -m pip install "${SUITE_PINS[@]}" >>"$AB/install.log" 2>&1 || install_failed
  suite_works || { "$VENV/bin/wstest" --help >>"$AB/install.log" 2>&1 || true; install_failed; }
  printf '%s\n' "$WANT_STAMP" >"$VENV/.pins"
fi
"$VENV/bin/wstest" --autobahnversion 2>/dev/null | sed 's/^/autobahn: /' || true
SETUP_SECS=$((SECONDS - SETUP_START))

# --- the server -----------------------------------------------------------------
BUILD_START=$SECONDS
say "building examples/echo (release)"
cargo build --release --example echo
ECHO_BIN="$TARGET_DIR/release/examples/echo"
[[ -x "$ECHO_BIN" ]] || die "no echo binary at $ECHO_BIN after the build"
BUILD_SECS=$((SECONDS - BUILD_START))

SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
listening() {
  "$PY" -c 'import socket, sys; s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1); s.close()' "$1" >/dev/null 2>&1
}
PORT=
for attempt in 1 2 3; do
  port=$(free_port)
  # Same as `cargo run --release --example echo -- --listen ...`, without
  # cargo in between, so the trap stops the server itself.
  "$ECHO_BIN" --listen "127.0.0.1:$port" >"$AB/echo.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if listening "$port"; then PORT=$port; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n "$PORT" ]] && break
  cleanup
  SERVER_PID=
  say "echo server did not come up on port $port (try $attempt):"
  sed 's/^/  /' "$AB/echo.log" >&2
done
[[ -n "$PORT" ]] || die "could not start the echo server"
say "echo server (pid $SERVER_PID) listening on 127.0.0.1:$PORT"

# --- the suite's run -------------------------------------------------------------
CASES=${AUTOBAHN_CASES:-'["*"]'}
if [[ "$CASES" != '["*"]' ]]; then EXPECTED_CASES=1; fi
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
cat >"$AB/fuzzingclient.json" <<EOF
{
  "outdir": "$REPORTS",
  "servers": [
    {"agent": "pinsocket-echo", "url": "ws://127.0.0.1:$PORT"}
  ],
  "cases": $CASES,
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
EOF
TIMEOUT=${AUTOBAHN_TIMEOUT:-2400}
say "running wstest -m fuzzingclient ($CASES, timeout ${TIMEOUT}s; log: $AB/wstest.log)"
SUITE_START=$SECONDS
rc=0
(cd "$AB" && timeout -k 10 "$TIMEOUT" "$VENV/bin/wstest" -m fuzzingclient -s "$AB/fuzzingclient.json") \
  >"$AB/wstest.log" 2>&1 || rc=$?
SUITE_SECS=$((SECONDS - SUITE_START))
say "fuzzing client ran ${SUITE_SECS}s (exit $rc)"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  say "the echo server is no longer running; its output:"
  sed 's/^/  /' "$AB/echo.log"
  [[ $rc -ne 0 ]] || rc=1
fi
if [[ -s "$AB/echo.log" ]]; then
  say "the echo server's output ($AB/echo.log, last lines):"
  tail -n 10 "$AB/echo.log" | sed 's/^/  /'
fi
if [[ $rc -ne 0 ]]; then
  tail -n 30 "$AB/wstest.log" | sed 's/^/  /'
  [[ $rc -eq 124 ]] && say "the fuzzing client timed out after ${TIMEOUT}s"
fi

# --- the verdict ------------------------------------------------------------------
verdict=0
"$PY" scripts/autobahn/tally.py "$REPORTS" "$EXPECTED_CASES" || verdict=$?
[[ $rc -eq 0 ]] || verdict=1
TOTAL_SECS=$((SECONDS - START))
say "took ${TOTAL_SECS}s (suite setup ${SETUP_SECS}s, build ${BUILD_SECS}s, fuzzing client ${SUITE_SECS}s); reports: $REPORTS/index.html"
if [[ $verdict -ne 0 ]]; then
  echo "Autobahn|Testsuite: FAILED"
  exit 1
fi
echo "Autobahn|Testsuite: PASSED (no case FAILED or NON-STRICT)"

#!/usr/bin/env bash
# Set up qet-geo on a fresh Debian machine with Python 3.11: uv, then a virtual environment at
# .venv/ with the package and its dependencies (bytecode compiled: these machines set
# PYTHONDONTWRITEBYTECODE, so an uncompiled install pays 8-10 s of imports at every start).
# Usage: scripts/setup.sh [extra]   (extra: "dev" for the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

python=$(command -v python3.11 || command -v python3 || true)
if [[ -z $python ]]; then
  say "installing Python 3 from Debian's packages"
  apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
  python=$(command -v python3)
fi

uv=$(command -v uv || true)
[[ -z $uv && -x $HOME/.local/bin/uv ]] && uv=$HOME/.local/bin/uv
if [[ -z $uv ]]; then
  say "installing uv (fast installer)"
  if ! "$python" -m pip --version >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
  fi
  "$python" -m pip install -q --user uv 2>/dev/null ||
    "$python" -m pip install -q --user --break-system-packages uv 2>/dev/null ||
    "$python" -m pip install -q uv
  uv=$(command -v uv || echo "$HOME/.local/bin/uv")
fi

if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv"
  "$uv" venv -q .venv --python "$python"
fi

spec="."
[[ -n $extra ]] && spec=".[$extra]"
stamp=".venv/.qet-installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-${extra:-base}"
if [[ ! -f $stamp ]]; then
  say "installing qet-geo and its dependencies into .venv"
  "$uv" pip install -q --python .venv/bin/python --compile-bytecode -e "$spec"
  rm -f .venv/.qet-installed-*
  touch "$stamp"
fi
# The project's own modules too (an editable install leaves them to be compiled at every start
# when PYTHONDONTWRITEBYTECODE is set: 0.3 s of each command); a changed file is recompiled in
# memory, so a stale copy costs nothing but that.
.venv/bin/python -m compileall -q -j 0 qet_geo api maps >/dev/null

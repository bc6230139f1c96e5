#!/usr/bin/env bash
# armtwin's one entry point for people and CI.
#   ./dev.sh            set everything up, then run the main job on the embedded MuJoCo default
#   ./dev.sh test       set everything up, then run the test suite (.venv: Python 3.11, torch, LeRobot)
#   ./dev.sh test-core  set up .venv-core312 (Python 3.12, the core only: no torch, no LeRobot) and
#                       run the test suite there; tests marked `lerobot` are skipped with a reason
#   ./dev.sh setup      only set up .venv
# Idempotent: system packages, the venvs and their pins are only installed when missing or changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
PY=${ARMTWIN_PYTHON:-python3.11}

# --- system packages (Debian, when root): FFmpeg libraries for torchcodec, EGL/OSMesa for offscreen MuJoCo,
#     chromium for the studio's browser tests ---
APT_PKGS=(ffmpeg libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 libosmesa6 chromium)
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "dev.sh: installing system packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "dev.sh: missing system packages (${missing[*]}); install them as root: apt-get install ${missing[*]}" >&2
  fi
fi

PIP_OPTS=(-q --disable-pip-version-check -c requirements/constraints.txt -c requirements/lock.txt)

# --- the core venv (Python 3.12, no torch/LeRobot): plain pip install of the package and its [test] extra ---
setup_core() {
  local venv=.venv-core312 py=${ARMTWIN_CORE_PYTHON:-}
  if [ -z "$py" ]; then
    for cand in python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
      if [ -n "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then py=$cand; break; fi
    done
  fi
  [ -n "$py" ] || { echo "dev.sh: test-core needs Python 3.12 (set ARMTWIN_CORE_PYTHON)" >&2; exit 2; }
  local stamp
  stamp=$(cat pyproject.toml requirements/constraints.txt requirements/lock.txt | sha256sum | cut -d' ' -f1)
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  if [ "$(cat "$venv/.armtwin-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "dev.sh: installing the core (no torch, no LeRobot) into $venv"
    "$venv/bin/pip" install "${PIP_OPTS[@]}" -e ".[test]"
    echo "$stamp" > "$venv/.armtwin-stamp"
  fi
}

# --- the main virtual environment (Python 3.11, CPU torch, LeRobot), pinned; reused when its inputs did not change ---
setup_main() {
  local stamp_src
  stamp_src=$(shopt -s nullglob; cat pyproject.toml requirements/*.txt requirements/*.py plugins/*/pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  if [ "$(cat .venv/.armtwin-stamp 2>/dev/null)" != "$stamp_src" ]; then
    echo "dev.sh: installing Python dependencies into .venv (first run takes a few minutes)"
    local PIP=(.venv/bin/pip install "${PIP_OPTS[@]}")
    # CPU torch first, so nothing later can pull the CUDA build (the constraints make pip fail instead).
    "${PIP[@]}" torch==2.13.0+cpu torchvision==0.28.0 torchcodec==0.13.0
    "${PIP[@]}" -r requirements/lerobot-runtime.txt
    # LeRobot's metadata pins torch<2.11; its runtime dependencies are listed explicitly above.
    # (armtwin's [lerobot] extra names LeRobot for ordinary installs; here it goes in with --no-deps.)
    .venv/bin/pip install -q --disable-pip-version-check --no-deps lerobot==0.4.4
    "${PIP[@]}" -e ".[test,bench,studio]"
    for plugin in plugins/*/; do
      [ -f "$plugin/pyproject.toml" ] && "${PIP[@]}" --no-deps -e "$plugin"
    done
    # This machine's torchvision import hook (requirements/tv_compat.py): an environment workaround,
    # so it goes into the venv as its own module, activated for every process by a .pth file.
    local site
    site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    cp requirements/tv_compat.py "$site/armtwin_tv_compat.py"
    echo "import armtwin_tv_compat; armtwin_tv_compat.install()" > "$site/armtwin_tv_compat.pth"
    echo "$stamp_src" > .venv/.armtwin-stamp
  fi
}

export MUJOCO_GL=${MUJOCO_GL:-egl}
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled
case "${1:-demo}" in
  setup) setup_main; echo "dev.sh: set up in $ROOT/.venv" ;;
  test) shift; setup_main; exec .venv/bin/python -m pytest -q "$@" ;;
  test-core) shift; setup_core; exec .venv-core312/bin/python -m pytest -q "$@" ;;
  demo) shift || true; setup_main; exec .venv/bin/armtwin demo "$@" ;;
  *) echo "dev.sh: unknown mode '$1'; valid modes: demo (default), test, test-core, setup" >&2; exit 2 ;;
esac

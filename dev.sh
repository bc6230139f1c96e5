#!/usr/bin/env bash
# armtwin's one entry point for people and CI.
#   ./dev.sh          set everything up, then run the main job on the embedded MuJoCo default
#   ./dev.sh test     set everything up, then run the test suite
#   ./dev.sh setup    only set up
# Idempotent: system packages, the .venv and its pins are only installed when missing or changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
PY=${ARMTWIN_PYTHON:-python3.11}

# --- system packages (Debian, when root): FFmpeg libraries for torchcodec, EGL/OSMesa for offscreen MuJoCo ---
APT_PKGS=(ffmpeg libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 libosmesa6)
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

# --- the virtual environment, pinned; reused when its inputs did not change ---
stamp_src=$(shopt -s nullglob; cat pyproject.toml requirements/*.txt plugins/*/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ "$(cat .venv/.armtwin-stamp 2>/dev/null)" != "$stamp_src" ]; then
  echo "dev.sh: installing Python dependencies into .venv (first run takes a few minutes)"
  PIP=(.venv/bin/pip install -q --disable-pip-version-check -c requirements/constraints.txt -c requirements/lock.txt)
  # CPU torch first, so nothing later can pull the CUDA build (the constraints make pip fail instead).
  "${PIP[@]}" torch==2.13.0+cpu torchvision==0.28.0 torchcodec==0.13.0
  "${PIP[@]}" -r requirements/lerobot-runtime.txt
  # LeRobot's metadata pins torch<2.11; its runtime dependencies are listed explicitly above.
  .venv/bin/pip install -q --disable-pip-version-check --no-deps lerobot==0.4.4
  "${PIP[@]}" -e ".[test]"
  for plugin in plugins/*/; do
    [ -f "$plugin/pyproject.toml" ] && "${PIP[@]}" --no-deps -e "$plugin"
  done
  # Import hook that lets CUDA-built torchvision import on CPU torch (armtwin/_tv_compat.py).
  site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  echo "import importlib.util as _u; _u.find_spec('armtwin') and __import__('armtwin._tv_compat', fromlist=['install']).install()" > "$site/armtwin_tv_compat.pth"
  echo "$stamp_src" > .venv/.armtwin-stamp
fi

export MUJOCO_GL=${MUJOCO_GL:-egl}
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled
case "${1:-demo}" in
  setup) echo "dev.sh: set up in $ROOT/.venv" ;;
  test) shift; exec .venv/bin/python -m pytest -q "$@" ;;
  demo) shift || true; exec .venv/bin/armtwin demo "$@" ;;
  *) echo "dev.sh: unknown mode '$1'; valid modes: demo (default), test, setup" >&2; exit 2 ;;
esac

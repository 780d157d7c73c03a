#!/usr/bin/env bash
# Create .venv and install sdas with everything the notebooks and tests need.
# Idempotent: a second run only checks. Prints how to get Graphviz's `dot` when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.sdas-installed
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing sdas and its dependencies into .venv (torch takes 1-2 minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  if ! .venv/bin/python -m pip install -e ".[dev]" >.venv/install.log 2>&1; then
    tail -n 30 .venv/install.log
    echo "setup: pip install failed; the whole log is in .venv/install.log" >&2
    exit 1
  fi
  touch "$stamp"
fi
if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: Graphviz's 'dot' is missing; installing Debian's graphviz package"
    (apt-get install -y -qq graphviz >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq graphviz >/dev/null 2>&1; }) \
      || echo "setup: could not install graphviz with apt-get"
  fi
fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: Chromium (for the browser test of the notebooks) is missing; installing Debian's chromium package"
    (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }) \
      || echo "setup: could not install chromium with apt-get"
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    echo "setup: WARNING: Chromium is not on PATH; the browser test (tests/test_browser.py) will fail and say so."
    echo "       Debian/Ubuntu: sudo apt-get install chromium (Playwright's own browser download is not used)"
  fi
fi
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: Fashion-MNIST (--dataset fashion_mnist) is missing; installing Debian's dataset-fashion-mnist package"
    (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }) \
      || echo "setup: could not install dataset-fashion-mnist with apt-get"
  fi
  if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
    echo "setup: note: Fashion-MNIST is not installed; --dataset fashion_mnist will download it through torchvision when online."
    echo "       Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist (no download at run time; see data/README.md)"
  fi
fi
if ! command -v dot >/dev/null 2>&1; then
  echo "setup: WARNING: Graphviz's 'dot' binary is not on PATH; cell diagrams will not render."
  echo "       Debian/Ubuntu: sudo apt-get install graphviz   macOS: brew install graphviz"
  echo "       conda: conda env create -f environment.yml (it includes graphviz)"
fi

#!/usr/bin/env bash
# Make .venv-paddle (Python 3.10: paddlepaddle 3.0 + paddlespeech 1.5, pinned by
# constraints/paddlespeech.txt) for PaddleSpeech in process; idempotent (a stamp marks it complete).
# Not part of `make setup`: the environment is ~2 GB and its pins clash with the app's.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(sha256sum constraints/paddlespeech.txt | cut -c1-16)
if [ -f .venv-paddle/.ivr-stamp ] && [ "$(cat .venv-paddle/.ivr-stamp)" = "$stamp" ]; then
  exit 0
fi
py=$(command -v python3.10 || ls -d "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 2>/dev/null | tail -n1)
[ -n "$py" ] || { echo "Python 3.10 not found (pyenv install 3.10.13)" >&2; exit 1; }
[ -x .venv-paddle/bin/python ] || "$py" -m venv .venv-paddle
rm -f .venv-paddle/.ivr-stamp
echo "[paddle] installing into .venv-paddle (first run takes several minutes)"
.venv-paddle/bin/python -m pip install -q --upgrade pip setuptools wheel
.venv-paddle/bin/python -m pip install -q -r constraints/paddlespeech.txt
echo "$stamp" > .venv-paddle/.ivr-stamp
echo "[paddle] .venv-paddle ready"

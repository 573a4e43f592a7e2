#!/usr/bin/env bash
# Make .venv-paddle (Python 3.10: paddlepaddle 3.0 + paddlespeech 1.5, pinned by
# constraints/paddlespeech.txt) for PaddleSpeech in process; idempotent (a stamp marks it complete).
# `make setup` runs it (its own environment: ~3 GB, and its pins clash with the app's); pip's output
# goes to var/log/paddle-setup.log, shown when the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(sha256sum constraints/paddlespeech.txt | cut -c1-16)
if [ -f .venv-paddle/.ivr-stamp ] && [ "$(cat .venv-paddle/.ivr-stamp)" = "$stamp" ]; then
  exit 0
fi
py=""  # a Python 3.10 that runs (a pyenv shim may exist without 3.10 selected: try it, then pyenv's versions)
root=$( (command -v pyenv >/dev/null 2>&1 && pyenv root) || echo "$HOME/.pyenv")
for cand in python3.10 $(ls -d "$root"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V -r); do
  if "$cand" -c 'import venv' >/dev/null 2>&1; then py=$(command -v "$cand"); break; fi
done
[ -n "$py" ] || { echo "Python 3.10 not found (pyenv install 3.10.13)" >&2; exit 1; }
[ -x .venv-paddle/bin/python ] || "$py" -m venv .venv-paddle
rm -f .venv-paddle/.ivr-stamp
echo "[paddle] installing PaddleSpeech into .venv-paddle (first run takes about 4 minutes)"
mkdir -p var/log
log=var/log/paddle-setup.log
{ .venv-paddle/bin/python -m pip install -q --upgrade pip setuptools wheel &&
  .venv-paddle/bin/python -m pip install -q -r constraints/paddlespeech.txt; } >"$log" 2>&1 ||
  { grep -v '^WARNING: Location' "$log" | tail -n 25 >&2; echo "[paddle] ERROR: install failed; log: $log" >&2; exit 1; }
echo "$stamp" > .venv-paddle/.ivr-stamp
echo "[paddle] .venv-paddle ready"

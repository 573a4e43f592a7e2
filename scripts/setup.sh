#!/usr/bin/env bash
# Create or repair the Python environments, idempotently and quickly when in place.
#   .venv       Python 3.11: the app (pyproject.toml, pinned by constraints/app.txt), console script `ivr`
#   .venv-rasa  Python 3.10: rasa[jieba]==3.6.21 and pypinyin (the pinyin NLU featurizer,
#               bot/nlu_pinyin.py), pinned by constraints/rasa.txt
#   .venv-paddle  Python 3.10: paddlepaddle 3.0 + paddlespeech 1.5 (constraints/paddlespeech.txt), made by
#               scripts/paddlespeech_env.sh, only for PaddleSpeech in process (a test and its check script)
# An environment counts as ready only when its stamp matches the hash of what it was built from;
# the stamp is written last, so an interrupted install is detected and repaired on the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

find_python() {  # $1 = major.minor; prints a working interpreter path
  local want=$1 cand root
  for cand in "python$want" "$HOME/.pyenv/shims/python$want"; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" >/dev/null 2>&1; then
      command -v "$cand"; return 0
    fi
  done
  root=$( (command -v pyenv >/dev/null 2>&1 && pyenv root) || echo "$HOME/.pyenv")
  for cand in $(ls -d "$root"/versions/"$want".*/bin/python"$want" 2>/dev/null | sort -V -r); do
    if "$cand" -c 'import venv' >/dev/null 2>&1; then echo "$cand"; return 0; fi
  done
  return 1
}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

ensure_venv() {  # $1 dir, $2 python, $3 stamp, $4.. install args
  local dir=$1 py=$2 stamp=$3; shift 3
  if [ -f "$dir/.ivr-stamp" ] && [ "$(cat "$dir/.ivr-stamp")" = "$stamp" ] &&
     "$dir/bin/python" -c 'import sys' >/dev/null 2>&1; then
    return 0
  fi
  if [ -d "$dir" ] && ! "$dir/bin/python" -c 'import sys' >/dev/null 2>&1; then
    say "$dir is broken; recreating it"; rm -rf "$dir"
  fi
  [ -d "$dir" ] || { say "creating $dir with $py"; "$py" -m venv "$dir"; }
  rm -f "$dir/.ivr-stamp"
  say "installing into $dir (first run takes a few minutes)"
  local log="$dir/install.log"
  if ! { "$dir/bin/python" -m pip install --upgrade pip setuptools wheel &&
         "$dir/bin/python" -m pip install "$@"; } >"$log" 2>&1; then
    grep -v -e "^WARNING: Location 'file:" "$log" | tail -n 25 >&2
    die "pip install into $dir failed; full log: $log"
  fi
  echo "$stamp" > "$dir/.ivr-stamp"
  say "$dir ready"
}

ensure_apt() {  # $1 command, $2 package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then die "$1 is missing: run 'sudo apt-get install -y $2'"; fi
  say "installing Debian package $2"
  if ! apt-get install -y -q "$2" >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q "$2" >/dev/null || die "apt-get install $2 failed"
  fi
}

ensure_deb() {  # $@ Debian packages without a command to look for (fonts, libraries)
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then die "missing Debian packages: run 'sudo apt-get install -y ${missing[*]}'"; fi
  say "installing Debian packages ${missing[*]}"
  if ! apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  fi
}

ensure_apt espeak-ng espeak-ng
# QA reports: WeasyPrint needs Pango; CJK fonts for HTML/PDF and charts; pdftoppm checks the PDFs
ensure_deb libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk
ensure_apt pdftoppm poppler-utils
ensure_apt chromium chromium          # the console's browser tests (Debian's, never downloaded)
ensure_apt chromedriver chromium-driver
ensure_apt pgbouncer pgbouncer          # the pooled-connection tests (transaction pooling)

# The web console's front end (console/web): npm ci when the lockfile changed, then a build when
# any source changed; both stamped like the venvs, so a second run does nothing.
ensure_web() {
  local web=console/web lock_stamp src_stamp log=console/web/build.log
  command -v npm >/dev/null 2>&1 || die "npm is missing (Node 20 and npm are needed for the console)"
  lock_stamp=$(stamp_of "$web/package.json" "$web/package-lock.json")
  if [ ! -f "$web/node_modules/.ivr-stamp" ] || [ "$(cat "$web/node_modules/.ivr-stamp")" != "$lock_stamp" ]; then
    say "installing the console's npm packages (npm ci)"
    rm -f "$web/node_modules/.ivr-stamp"
    (cd "$web" && npm ci --no-audit --no-fund) >"$log" 2>&1 || { tail -n 25 "$log" >&2; die "npm ci failed; log: $log"; }
    echo "$lock_stamp" > "$web/node_modules/.ivr-stamp"
  fi
  src_stamp=$(cd "$web" && find src index.html vite.config.ts tsconfig.json package.json package-lock.json -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
  if [ ! -f "$web/dist/.ivr-stamp" ] || [ "$(cat "$web/dist/.ivr-stamp")" != "$src_stamp" ]; then
    say "building the console's front end"
    (cd "$web" && npm run build) >"$log" 2>&1 || { tail -n 25 "$log" >&2; die "front-end build failed; log: $log"; }
    echo "$src_stamp" > "$web/dist/.ivr-stamp"
  fi
}
ensure_web

PY311=$(find_python 3.11) || die "Python 3.11 not found: install it (e.g. 'pyenv install 3.11')"
PY310=$(find_python 3.10) || die "Python 3.10 not found (Rasa 3.6 needs it): install it with 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv'"

ensure_venv .venv "$PY311" "$(stamp_of pyproject.toml constraints/app.txt)" \
  -c constraints/app.txt -e '.[dev,speech,funasr,s3]'
ensure_venv .venv-rasa "$PY310" "$(stamp_of constraints/rasa.txt)" \
  -c constraints/rasa.txt 'rasa[jieba]==3.6.21' pypinyin
# PaddleSpeech in process (tests/speech/test_speech_paddlespeech_inprocess.py): its own environment
scripts/paddlespeech_env.sh

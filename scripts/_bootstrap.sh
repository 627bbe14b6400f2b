# Sourced by scripts/plan and scripts/test: create or refresh the project's virtualenv at .venv.
# Needs only a Python >= 3.11 on PATH (or $PYTHON) and access to the package index.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
  if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "error: need Python >= 3.11 on PATH (or set PYTHON=/path/to/python3.11)" >&2
  exit 2
}

stamp_of() { (cat "$ROOT/pyproject.toml"; "$1" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1; }

if [[ ! -x "$VENV/bin/python" ]]; then
  PY="$(find_python)"
  echo "bootstrap: creating $VENV with $PY" >&2
  "$PY" -m venv "$VENV"
fi
want="$(stamp_of "$VENV/bin/python")"
if [[ "$(cat "$VENV/.bootstrap-stamp" 2>/dev/null)" != "$want" ]]; then
  echo "bootstrap: installing the project and its dev tools into .venv (first run takes a few minutes)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]" >&2
  echo "$want" > "$VENV/.bootstrap-stamp"
fi
# The editable install maps `saas_platform.<pkg>` onto the top-level folders through an import hook, which static
# checkers cannot follow. Mirror the mapping with directory links in site-packages, so pyright, pytest and the
# Pulumi CLI all resolve `saas_platform.components|handlers|policies` to the working tree (new files included).
site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$site/saas_platform"
for pkg in components handlers policies; do
  [[ "$(readlink "$site/saas_platform/$pkg" 2>/dev/null)" == "$ROOT/$pkg" ]] || ln -sfn "$ROOT/$pkg" "$site/saas_platform/$pkg"
done
# The IAM evaluator the authorization matrix drives (tests/iam-simulate: @cloud-copilot/iam-simulate, AGPL-3.0,
# test-only and never in the wheel), installed from its lockfile when absent or when the lockfile changed.
SIM="$ROOT/tests/iam-simulate"
if command -v npm >/dev/null 2>&1; then
  sim_want="$(sha256sum "$SIM/package-lock.json" | cut -d' ' -f1)"
  if [[ "$(cat "$SIM/node_modules/.bootstrap-stamp" 2>/dev/null)" != "$sim_want" ]]; then
    echo "bootstrap: installing the IAM evaluator (npm ci in tests/iam-simulate)" >&2
    (cd "$SIM" && npm ci --no-audit --no-fund --silent >&2) && echo "$sim_want" > "$SIM/node_modules/.bootstrap-stamp"
  fi
else
  echo "bootstrap: warning: npm not found; the authorization matrix needs node >= 20 and npm" >&2
fi
# The grants stack's tests start a real PostgreSQL server (Debian's postgresql package). Install it when it is
# missing and we may (root with apt-get, as on CI); otherwise those tests explain what is missing.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing the postgresql server package (grants stack tests)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
  else
    echo "bootstrap: warning: no PostgreSQL server binaries (apt-get install postgresql); the grants tests need them" >&2
  fi
fi
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PULUMI_SKIP_UPDATE_CHECK=true
cd "$ROOT"

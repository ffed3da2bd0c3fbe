# Shared helpers for the scripts in this folder. Source it; do not run it.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR="${FPGASCORE_TOOLS_DIR:-$REPO_ROOT/.tools}"
# shellcheck source=machine-cache.sh
source "$REPO_ROOT/scripts/machine-cache.sh"
MACHINE_CACHE=$(fpgascore_machine_cache)  # empty: FPGASCORE_CACHE_DIR=off
# Debian's Python sees the apt-installed packages; another python3 first on PATH may not.
PYTHON="${FPGASCORE_PYTHON:-/usr/bin/python3}"
export PYTHONDONTWRITEBYTECODE=1

log() { printf '[fpgascore] %s\n' "$*" >&2; }
die() { printf '[fpgascore] error: %s\n' "$*" >&2; exit 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
# dotnet's builds of csharp/ one at a time when scripts run at once (scripts/shims/dotnet).
case ":$PATH:" in
  ":$REPO_ROOT/scripts/shims:"*) ;;
  *) export PATH="$REPO_ROOT/scripts/shims:$PATH" ;;
esac

# Shared by ci/conformance and ci/test: find the tree, make sure the Debian
# packages the build needs are there (installing them when root), and pick a
# parallelism. Sourced, not run.
set -euo pipefail

GMEM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$GMEM_ROOT"

# Debian 12 packages the build and tests need.
GMEM_PACKAGES=(cmake ninja-build g++ pkg-config liburing-dev nlohmann-json3-dev)

gmem_ensure_packages() {
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "Missing Debian packages: ${missing[*]}" >&2
        echo "Install them as root with:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 2
    fi
    echo "Installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

GMEM_JOBS=$(nproc 2>/dev/null || echo 2)
export CTEST_PARALLEL_LEVEL=${CTEST_PARALLEL_LEVEL:-$GMEM_JOBS}

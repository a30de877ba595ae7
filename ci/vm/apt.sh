# shellcheck shell=bash
# A private apt configuration for Debian suites beyond the machine's own
# (trixie, trixie-backports, sid, experimental, bookworm-backports): its own
# sources list, package lists and cache under one directory, so nothing the
# machine's apt knows or has installed changes. Used to fetch kernel sources
# and kernel packages (apt-get download); never to install anything.
# Sourced, not run; needs vm_die / vm_note from ci/vm/lib.sh.

# The suites fetched, in the order apt prefers them for equal versions.
GMEM_APT_SUITES=${GMEM_APT_SUITES:-"trixie-backports trixie sid experimental bookworm-backports bookworm"}
GMEM_APT_MIRROR=${GMEM_APT_MIRROR:-http://deb.debian.org/debian}

# Where the private configuration lives: $GMEM_APT_DIR, or under the kernel
# cache (outside the work tree, shared by every checkout on the machine).
gmem_apt_dir() {
    echo "${GMEM_APT_DIR:-$(gmem_cache_root)/apt}"
}

# The cache root for everything fetched or built for kernels.
gmem_cache_root() {
    if [ -n "${GMEM_KERNEL_CACHE:-}" ]; then
        echo "$GMEM_KERNEL_CACHE"
    elif [ "$(id -u)" = 0 ]; then
        echo /var/cache/gmem-kernels
    else
        echo "${XDG_CACHE_HOME:-$HOME/.cache}/gmem-kernels"
    fi
}

_gmem_apt_opts() {
    local d
    d=$(gmem_apt_dir)
    printf '%s\n' -o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/sources.list.d" \
        -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" \
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" \
        -o "APT::Default-Release=" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
}

# Writes the configuration and refreshes its package lists when they are
# older than a day (or missing). Exit 3 on failure (host setup).
gmem_apt_update() {
    local d s stamp
    d=$(gmem_apt_dir)
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/sources.list.d" ||
        vm_die 3 "cannot create the private apt directory $d"
    {
        echo "# written by ci/vm/apt.sh: a private apt configuration, not the machine's"
        for s in $GMEM_APT_SUITES; do
            echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $GMEM_APT_MIRROR $s main"
        done
    } >"$d/sources.list.new"
    if ! cmp -s "$d/sources.list.new" "$d/sources.list" 2>/dev/null; then
        mv "$d/sources.list.new" "$d/sources.list"
        rm -f "$d/updated"
    else
        rm -f "$d/sources.list.new"
    fi
    stamp=$d/updated
    if [ -f "$stamp" ] && [ -n "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
        return 0
    fi
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] ||
        vm_die 3 "no /usr/share/keyrings/debian-archive-keyring.gpg (package debian-archive-keyring)"
    vm_note "refreshing the private apt lists ($GMEM_APT_SUITES) in $d"
    local opts
    mapfile -t opts < <(_gmem_apt_opts)
    if ! apt-get "${opts[@]}" -qq update >"$d/update.log" 2>&1; then
        vm_die 3 "apt-get update with the private configuration failed: $(grep -m1 -E '^(E|W):' "$d/update.log" || tail -n1 "$d/update.log")"
    fi
    touch "$stamp"
}

# apt-cache / apt-get with the private configuration.
gmem_apt_cache() {
    local opts
    mapfile -t opts < <(_gmem_apt_opts)
    apt-cache "${opts[@]}" "$@"
}

# The newest version of PACKAGE the private lists know (empty if none).
gmem_apt_version() { # package
    gmem_apt_cache policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2; exit }'
}

# Downloads PACKAGE[=VERSION] into DIR (the .deb's path on stdout).
# Exit 3 when apt cannot get it.
gmem_apt_download() { # package[=version] dir
    local spec=$1 dir=$2 opts deb
    mapfile -t opts < <(_gmem_apt_opts)
    mkdir -p "$dir" || vm_die 3 "cannot create $dir"
    if ! (cd "$dir" && apt-get "${opts[@]}" -qq download "$spec") >"$dir/download.log" 2>&1; then
        vm_die 3 "apt-get download $spec failed: $(grep -m1 -E '^E:' "$dir/download.log" || tail -n1 "$dir/download.log")"
    fi
    deb=$(ls -t "$dir"/"${spec%%=*}"_*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || vm_die 3 "apt-get download $spec left no .deb in $dir"
    echo "$deb"
}

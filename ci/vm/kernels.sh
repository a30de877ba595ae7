# shellcheck shell=bash
# The kernels the project tracks (ci/kernels.list) and how to get one into the
# kernel cache: fetched Debian packages (deb:) or a ci/build-kernel build
# (build:). Shared by ci/kernel-matrix and ci/lava/run-lava. Sourced, not run;
# needs ci/common.sh (GMEM_ROOT), ci/vm/lib.sh and ci/vm/apt.sh.

# Reads LIST into the global associative arrays KL_ROLE, KL_SOURCE and
# KL_OPTS (the runner options, one string) and the array KL_ORDER (the
# list's order). Exit 2 on a malformed line.
gmem_kernels_read() { # list
    local list=$1 n r s rest
    declare -gA KL_ROLE=() KL_SOURCE=() KL_OPTS=()
    KL_ORDER=()
    [ -f "$list" ] || vm_die 2 "kernel list $list: no such file"
    while read -r n r s rest; do
        case "$n" in '' | '#'*) continue ;; esac
        case "$r" in control | conformance) ;; *) vm_die 2 "$list: kernel $n has role '$r' (control or conformance)" ;; esac
        case "$s" in deb:?* | build:?*) ;; *) vm_die 2 "$list: kernel $n has source '$s' (deb:PKG,... or build:ARGS)" ;; esac
        KL_ROLE[$n]=$r KL_SOURCE[$n]=$s KL_OPTS[$n]=$rest
        KL_ORDER+=("$n")
    done <"$list"
}

# The newest package name matching PATTERN in the private apt lists
# (* = a version number); a name without * is itself.
gmem_kernel_resolve_pkg() { # pattern
    local pat=$1 re
    [[ $pat == *"*"* ]] || { echo "$pat"; return 0; }
    re="^$(printf '%s' "$pat" | sed 's/[.+]/\\&/g; s/\*/[0-9][0-9.]*/g')\$"
    gmem_apt_cache pkgnames "${pat%%\**}" 2>/dev/null | grep -E "$re" | sort -V | tail -n1
}

# Gets kernel NAME of the list (gmem_kernels_read) into the cache and sets
# K_IMAGE (its bzImage) and K_MODULES (the root of its modules; empty: built
# in). With CACHED_ONLY=1 nothing is fetched or built: return 1 when it is
# not cached. Exit 3 (host setup) when it cannot be fetched or built.
gmem_get_kernel() { # name cached_only
    local n=$1 cached_only=${2:-0} src=${KL_SOURCE[$1]} spec pkgs=() p name deb key dir root cache args
    K_IMAGE="" K_MODULES=""
    cache=$(gmem_cache_root)
    case "$src" in
    deb:*)
        if [ "$cached_only" = 1 ] && [ ! -d "$(gmem_apt_dir)/lists" ]; then return 1; fi
        [ "$cached_only" = 1 ] || gmem_apt_update
        IFS=',' read -r -a spec <<<"${src#deb:}"
        for p in "${spec[@]}"; do
            name=$(gmem_kernel_resolve_pkg "$p")
            [ -n "$name" ] || vm_die 3 "kernel $n: no package matches '$p' in the private apt lists ($GMEM_APT_SUITES)"
            pkgs+=("$name")
        done
        key=$(printf '%s\n' "${pkgs[@]}" | sha256sum | cut -c1-12)
        dir=$cache/kernels/$n-$key
        root=$dir/root
        if [ ! -f "$dir/ready" ]; then
            [ "$cached_only" = 1 ] && return 1
            rm -rf "$dir"
            mkdir -p "$dir" || vm_die 3 "cannot create $dir"
            for p in "${pkgs[@]}"; do
                echo "=== ${VM_PROG:-kernels}: $n: fetching $p"
                deb=$(gmem_apt_download "$p" "$cache/debs")
                dpkg-deb -x "$deb" "$root" 2>"$dir/dpkg.err" ||
                    vm_die 3 "kernel $n: dpkg-deb -x $deb failed: $(head -n1 "$dir/dpkg.err")"
            done
            printf '%s\n' "${pkgs[@]}" >"$dir/packages"
            touch "$dir/ready"
        fi
        K_IMAGE=$(vm_find_image "$root")
        [ -n "$K_IMAGE" ] || vm_die 3 "kernel $n: ${pkgs[*]} hold no kernel image (boot/vmlinuz-* or usr/lib/modules/*/vmlinuz)"
        K_MODULES=$root
        ;;
    build:*)
        IFS=',' read -r -a args <<<"${src#build:}"
        if [ "$cached_only" = 1 ]; then
            K_IMAGE=$("$GMEM_ROOT/ci/build-kernel" "${args[@]}" --cached-only -q 2>/dev/null | tail -n1) || return 1
        else
            K_IMAGE=$("$GMEM_ROOT/ci/build-kernel" "${args[@]}" | tail -n1) ||
                vm_die 3 "kernel $n: ci/build-kernel ${args[*]} failed (see above)"
        fi
        [ -f "$K_IMAGE" ] || vm_die 3 "kernel $n: ci/build-kernel printed no image path"
        ;;
    esac
    return 0
}

# shellcheck shell=bash
# Host-side helpers for booting a kernel under QEMU and running the corpus in
# it (ci/run-kernel, ci/bisect-kernel, ci/kernel-matrix). Sourced, not run.
# Needs bash, and the Debian packages in VM_PACKAGES.

VM_PACKAGES=(qemu-system-x86 busybox-static cpio jq xz-utils zstd binutils)

vm_die() { # code message...
    local code=$1
    shift
    echo "${VM_PROG:-run-kernel}: $*" >&2
    exit "$code"
}

vm_note() { [ "${VM_QUIET:-0}" = 1 ] || echo "${VM_PROG:-run-kernel}: $*" >&2; }

# The missing packages of "$@" (none: empty output).
vm_missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            printf '%s ' "$p"
    done
}

# The release string a bzImage carries (setup header: "HdrS" at 0x202, the
# kernel_version pointer at 0x20e, relative to 0x200). Empty if not a bzImage.
vm_image_release() {
    local img=$1 magic ptr
    magic=$(od -An -c -j 514 -N 4 "$img" 2>/dev/null | tr -d ' ')
    [ "$magic" = HdrS ] || return 0
    ptr=$(od -An -tu2 -j 526 -N 2 "$img" | tr -d ' ')
    [ -n "$ptr" ] && [ "$ptr" -gt 0 ] || return 0
    dd if="$img" bs=1 skip=$((ptr + 512)) count=200 status=none | tr '\0' '\n' | head -n1 |
        awk '{print $1}'
}

# The kernel image in an unpacked Debian kernel package tree: boot/vmlinuz-*
# (classic linux-image-* packages) or usr/lib/modules/<rel>/vmlinuz (the
# split linux-binary-* packages from 7.2). Empty output if there is none.
vm_find_image() { # root
    local root=$1 f
    for f in "$root"/boot/vmlinuz-* "$root"/usr/lib/modules/*/vmlinuz "$root"/lib/modules/*/vmlinuz; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 0
}

# Resolve a modules location to the versioned directory (the one holding
# modules.dep or kernel/): DIR itself, DIR/lib/modules/<release>, or the only
# DIR/lib/modules/* entry.
vm_modules_dir() { # dir release
    local dir=$1 rel=$2 cands
    if [ -e "$dir/modules.dep" ] || [ -d "$dir/kernel" ]; then
        echo "$dir"
        return 0
    fi
    for base in "$dir/lib/modules" "$dir/usr/lib/modules"; do
        if [ -n "$rel" ] && [ -d "$base/$rel" ]; then
            echo "$base/$rel"
            return 0
        fi
        if [ -d "$base" ]; then
            cands=$(find "$base" -mindepth 1 -maxdepth 1 -type d | head -n2)
            if [ "$(echo "$cands" | grep -c .)" = 1 ]; then
                echo "$cands"
                return 0
            fi
        fi
    done
    return 1
}

# Dependencies of one module file (paths relative to the modules dir), from
# modules.dep when there is one, else from the module's own "depends=" field.
_vm_deps() { # moddir relpath
    local moddir=$1 rel=$2 names n f
    if [ -f "$moddir/modules.dep" ]; then
        awk -v m="$rel" -F': *' '$1 == m { print $2 }' "$moddir/modules.dep" | tr ' ' '\n' | grep .
        return 0
    fi
    names=$(_vm_cat_module "$moddir/$rel" | tr '\0' '\n' | grep -a '^depends=' | head -n1 |
        cut -d= -f2 | tr ',' ' ')
    for n in $names; do
        f=$(_vm_find_module "$moddir" "$n") || vm_die 3 "module $rel needs $n, not found in $moddir"
        echo "$f"
    done
}

_vm_cat_module() {
    case "$1" in
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -qdc "$1" ;;
    *.ko.gz) gzip -dc "$1" ;;
    *) cat "$1" ;;
    esac
}

# Path (relative to moddir) of module NAME ('-' and '_' are the same), or fail.
_vm_find_module() { # moddir name
    local pat f
    pat=$(echo "$2" | sed 's/[-_]/[-_]/g')
    f=$(cd "$1" && find . -regextype posix-extended -regex ".*/${pat}\.ko(\.(xz|zst|gz))?" | head -n1)
    [ -n "$f" ] || return 1
    echo "${f#./}"
}

# Load order (deps first) of module REL, appended to the global array VM_ORDER.
_vm_order() { # moddir rel
    local d
    case " ${VM_ORDER[*]} " in *" $2 "*) return 0 ;; esac
    for d in $(_vm_deps "$1" "$2"); do _vm_order "$1" "$d"; done
    VM_ORDER+=("$2")
}

_vm_builtin() { # moddir name
    [ -f "$1/modules.builtin" ] &&
        grep -Eq "/$(echo "$2" | sed 's/[-_]/[-_]/g')\.ko$" "$1/modules.builtin"
}

# Copy the KVM modules (kvm + vendor module + what they need) into the staging
# root under /lib/gmem-modules, decompressed, and write /gmem/modules.amd and
# /gmem/modules.intel: the insmod order per vendor. Prints what it found.
vm_stage_modules() { # moddir stage
    local moddir=$1 stage=$2 vendor mod rel dst
    mkdir -p "$stage/lib/gmem-modules" "$stage/gmem"
    for vendor in amd intel; do
        mod=kvm-$vendor
        if _vm_builtin "$moddir" "$mod"; then
            : >"$stage/gmem/modules.$vendor"
            vm_note "modules: $mod is built in"
            continue
        fi
        rel=$(_vm_find_module "$moddir" "$mod") || {
            vm_note "modules: no $mod in $moddir (neither a module nor built in)"
            continue
        }
        VM_ORDER=()
        _vm_order "$moddir" "$rel"
        : >"$stage/gmem/modules.$vendor"
        for rel in "${VM_ORDER[@]}"; do
            dst=$(basename "$rel")
            dst=/lib/gmem-modules/${dst%%.ko*}.ko
            [ -f "$stage$dst" ] || _vm_cat_module "$moddir/$rel" >"$stage$dst" ||
                vm_die 3 "cannot read module $moddir/$rel"
            echo "$dst" >>"$stage/gmem/modules.$vendor"
        done
        vm_note "modules for $vendor: $(xargs -n1 basename <"$stage/gmem/modules.$vendor" | sed 's/\.ko$//' | tr '\n' ' ')"
    done
}

# Copy an executable (or shared library) into the staging root at DEST
# (default: its own path), debug info stripped, with every shared library
# ldd names for the staged copy (and the loader) at its host path, unless
# it lies inside the staging root already: the installed tree's lib/, which
# its programs find through RPATH $ORIGIN/../lib. Programs find their helper
# files relative to themselves (include/gmem/util/locate.hpp), so run-kernel
# stages the installed tree (cmake --install) and nothing else.
vm_stage_program() { # path stage [dest]
    local src=$1 stage=$2 dst=${3:-$1} lib
    mkdir -p "$stage$(dirname "$dst")"
    if ! strip --strip-debug -o "$stage$dst" "$src" 2>/dev/null; then
        cp -L "$src" "$stage$dst"
    fi
    chmod +x "$stage$dst"
    for lib in $(ldd "$stage$dst" 2>/dev/null | awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }'); do
        [ -f "$lib" ] || continue
        case $lib in "$stage"/*) continue ;; esac
        [ -e "$stage$lib" ] && continue
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib"
    done
}

# The accelerator: "kvm" when /dev/kvm is usable here and the host CPU can
# offer VMX/SVM to a guest (nested enabled), else "tcg" (-cpu max emulates
# SVM, so the VM gets a working /dev/kvm through kvm_amd). Sets VM_ACCEL,
# VM_CPU and VM_ACCEL_WHY.
vm_pick_accel() { # auto|kvm|tcg
    local want=$1 flag nested
    VM_ACCEL=tcg VM_CPU=max
    flag=$(grep -m1 -owE 'vmx|svm' /proc/cpuinfo 2>/dev/null || true)
    nested=N
    for p in /sys/module/kvm_intel/parameters/nested /sys/module/kvm_amd/parameters/nested; do
        [ -r "$p" ] && grep -qE '^(Y|1)$' "$p" && nested=Y
    done
    case "$want" in
    tcg) VM_ACCEL_WHY="asked for (--accel tcg)" ;;
    kvm)
        [ -r /dev/kvm ] && [ -w /dev/kvm ] || vm_die 3 "--accel kvm: /dev/kvm is not usable here"
        VM_ACCEL=kvm VM_CPU=host VM_ACCEL_WHY="asked for (--accel kvm)"
        ;;
    auto)
        if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
            VM_ACCEL_WHY="no usable /dev/kvm on the host"
        elif [ -z "$flag" ]; then
            VM_ACCEL_WHY="the host CPU has no vmx/svm flag (this /dev/kvm cannot nest)"
        elif [ "$nested" != Y ]; then
            VM_ACCEL_WHY="nested virtualization is off (kvm_intel/kvm_amd nested=N)"
        else
            VM_ACCEL=kvm VM_CPU=host VM_ACCEL_WHY="host $flag with nested=Y"
        fi
        ;;
    *) vm_die 2 "--accel must be auto, kvm or tcg (got '$want')" ;;
    esac
    # Defaults that follow: with TCG one vCPU (two wedge QEMU 7.2's emulated
    # nested SVM in about half the runs that run guest code) and timeouts x3.
    if [ "$VM_ACCEL" = tcg ]; then VM_SMP_DEFAULT=1 VM_SCALE_DEFAULT=3; else VM_SMP_DEFAULT=2 VM_SCALE_DEFAULT=1; fi
}

# The kernel command line of the test VM (before a kernel's own --append):
# the console on the first serial port, /init of the initramfs as PID 1.
VM_CMDLINE="console=ttyS0 quiet panic=-1 no_timer_check rdinit=/init"

# The QEMU machine (after vm_pick_accel): accelerator, CPU model, RAM (MiB),
# CPUs and NUMA nodes (N memory backends, the RAM split evenly, one node
# each; the CPUs on node 0), no default devices, no display, no reboot. Sets
# the array VM_QEMU_MACHINE (and VM_QEMU_WORDS, the same in words); the caller adds kernel, initramfs and serial
# ports (ci/run-kernel: two files; ci/lava/run-lava: LAVA's stdio).
vm_qemu_machine() { # mem smp numa
    local mem=$1 smp=$2 numa=$3 i
    VM_QEMU_MACHINE=(-accel "$VM_ACCEL" -cpu "$VM_CPU" -m "$mem" -smp "$smp"
        -nodefaults -no-user-config -display none -no-reboot)
    # In words, for the reports: "-cpu max, 1 CPU(s), 2048 MiB, 2 NUMA nodes".
    VM_QEMU_WORDS="-cpu $VM_CPU, $smp CPU(s), $mem MiB"
    if [ "$numa" -gt 1 ]; then VM_QEMU_WORDS="$VM_QEMU_WORDS, $numa NUMA nodes"; fi
    if [ "$numa" -gt 1 ]; then
        [ $((mem % numa)) -eq 0 ] || vm_die 2 "--mem $mem does not split evenly into $numa NUMA nodes"
        for ((i = 0; i < numa; i++)); do
            VM_QEMU_MACHINE+=(-object "memory-backend-ram,id=gmem-ram$i,size=$((mem / numa))M")
            if [ $i -eq 0 ]; then
                VM_QEMU_MACHINE+=(-numa "node,nodeid=0,cpus=0-$((smp - 1)),memdev=gmem-ram0")
            else
                VM_QEMU_MACHINE+=(-numa "node,nodeid=$i,memdev=gmem-ram$i")
            fi
        done
    fi
}

# `cmake --install BUILD` into INST (the tree a user of the tarball gets);
# exit 2 when the build is not built or predates install support.
vm_install_build() { # build inst log
    local build=$1 inst=$2 log=$3
    cmake --install "$build" --prefix "$inst" >"$log" 2>&1 ||
        vm_die 2 "cmake --install $build failed (build it first: cmake --build $build): $(grep -m1 -i 'error' "$log")"
    [ -f "$inst/run_kselftest.sh" ] && [ -f "$inst/kselftest-list.txt" ] ||
        vm_die 2 "cmake --install $build made no run_kselftest.sh / kselftest-list.txt (a build configured before install support: reconfigure it)"
}

# The installed tree's place in the VM.
VM_SELFTESTS=/opt/gmem-selftests

# The initramfs root in STAGE: busybox, ci/vm/init as /init, the KVM modules
# of MODDIR (empty: KVM built in) and the installed tree INST at
# $VM_SELFTESTS, its programs (ELF files) again through vm_stage_program:
# debug info stripped, the host's glibc beside. The caller writes
# STAGE/gmem/config (and run.args), then vm_pack_initramfs.
vm_stage_root() { # stage inst moddir release
    vm_stage_boot "$1" "$3" "$4"
    vm_stage_corpus "$1" "$2"
}

# The part of the root that depends on the kernel: the directories, busybox,
# ci/vm/init as /init, the KVM modules of MODDIR (empty: KVM built in).
vm_stage_boot() { # stage moddir release
    local stage=$1 moddir=$2 release=$3
    mkdir -p "$stage/bin" "$stage/gmem" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp"
    cp /bin/busybox "$stage/bin/busybox"
    install -m 0755 "$GMEM_ROOT/ci/vm/init" "$stage/init"
    if [ -n "$moddir" ]; then
        vm_note "kernel $release, modules from $moddir"
        vm_stage_modules "$moddir" "$stage"
    else
        vm_note "kernel $release, no modules directory: KVM must be built in"
    fi
}

# The part that depends on the build only: the installed tree INST at
# $VM_SELFTESTS, its programs stripped, the host libraries they need beside.
vm_stage_corpus() { # stage inst
    local stage=$1 inst=$2 f
    mkdir -p "$stage$VM_SELFTESTS"
    cp -a "$inst/." "$stage$VM_SELFTESTS/"
    while IFS= read -r f; do
        if [ "$(od -An -tx1 -N4 "$inst/$f" | tr -d ' ')" = 7f454c46 ]; then
            vm_stage_program "$inst/$f" "$stage" "$VM_SELFTESTS/$f"
        fi
    done < <(cd "$inst" && find . -type f | sed 's|^\./||')
}

# STAGE as a gzip-compressed newc cpio archive (what -initrd and LAVA's
# ramdisk "compression: gz, format: cpio.newc" take).
vm_pack_initramfs() { # stage file
    (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2" ||
        vm_die 3 "cannot build the initramfs"
}

# Quote a string for busybox sh (single quotes).
vm_shquote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# Split the results channel into files under OUT and a marker list
# (OUT/markers.txt). Safe to run on a partial log.
vm_collect() { # results.raw out
    local raw=$1 out=$2
    # FILE: text lines prefixed "|". FILEZ: gzip in base64 lines, decoded when
    # the file ends (at its EOF marker, the next marker, or the end of the
    # output: what a VM that died mid-file sent is kept as far as it goes).
    tr -d '\r' <"$raw" | awk -v out="$out" '
        # cur: the file being received; w: where its lines go (cur, or
        # cur.b64 for FILEZ, decoded into cur when it is closed).
        function close_cur() {
            if (cur != "") {
                close(w)
                if (w != cur) system("base64 -d -i <\"" w "\" 2>/dev/null | gzip -dc >\"" cur "\" 2>/dev/null; rm -f \"" w "\"")
            }
            cur = ""; w = ""
        }
        function open_file(name, zipped) {
            close_cur(); cur = out "/" name; w = zipped ? cur ".b64" : cur
            d = cur; sub(/\/[^\/]*$/, "", d); system("mkdir -p \"" d "\"")
            printf "" > w
        }
        /^@@GMEM FILE / { open_file(substr($0, 13), 0); next }
        /^@@GMEM FILEZ / { open_file(substr($0, 14), 1); next }
        /^@@GMEM EOF / { close_cur(); next }
        /^@@GMEM / { close_cur(); print > (out "/markers.txt"); next }
        cur != "" && w == cur && /^\|/ { print substr($0, 2) > w; next }
        cur != "" && w != cur && /^[A-Za-z0-9+\/=]+$/ { print > w; next }
        END { close_cur() }
    '
}

# The per-behaviour conformance report of a run (OUT/report.md, OUT/report.json),
# as ci/conformance writes it for the running kernel: OUT/ktap/<program>.ktap
# plus each corpus program's -l list (so a program that crashed or printed
# nothing still fails its IDs), OUT/probe.json above the rows. The build's own
# gmem-report and the spec of the tree it was configured from.
vm_write_report() { # build out
    local build=$1 out=$2 rdir spec src probe_arg version
    rdir=$out/report-input
    rm -rf "$rdir"
    mkdir -p "$rdir/ktap"
    cp "$out"/ktap/*.ktap "$rdir/ktap/" 2>/dev/null || true
    [ -x "$build/tools/gmem-report" ] || { echo "no $build/tools/gmem-report: no report" >&2; return 1; }
    ctest --test-dir "$build" -L '^corpus$' --show-only=json-v1 >"$rdir/ctest-tests.json" 2>/dev/null &&
        "$build/tools/gmem-report" list --ctest-json "$rdir/ctest-tests.json" --out "$rdir/ktap" 2>/dev/null ||
        { echo "could not list the corpus programs of $build for the report" >&2; return 1; }
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null)
    spec=${src:-$GMEM_ROOT}/spec/BEHAVIORS.md
    [ -f "$spec" ] || spec=$GMEM_ROOT/spec/BEHAVIORS.md
    probe_arg=(--probe-note "no probe.json from the VM")
    [ -s "$out/probe.json" ] && probe_arg=(--probe "$out/probe.json")
    version=$(git -C "${src:-$GMEM_ROOT}" describe --always --dirty 2>/dev/null || echo unknown)
    # VM_RAN_ON (set by the runner): the kernel, accelerator and command line,
    # for the report's header. Exit 4 of build is the verdict NOT TESTED (no
    # usable KVM or no guest_memfd in the VM): a report was written, the run
    # itself did not fail.
    local rc=0
    "$build/tools/gmem-report" build --ktap-dir "$rdir/ktap" --spec "$spec" --corpus-version "$version" \
        --json "$out/report.json" --markdown "$out/report.md" "${probe_arg[@]}" --quiet \
        ${VM_RAN_ON:+--ran-on "$VM_RAN_ON"} --in-vm || rc=$?
    [ $rc -eq 4 ] && { echo "report verdict: NOT TESTED ($(sed -n 's/^| verdict | NOT TESTED: \(.*\) |$/\1/p' "$out/report.md"))"; rc=0; }
    return $rc
}

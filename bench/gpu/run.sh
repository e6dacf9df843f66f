#!/usr/bin/env bash
# The GPU machine's one command: builds the native engine with the CUDA backend, then checks it and measures
# it against PyTorch, writing one merged JSON, bench/results/gpu-<gpu>-<date>.json (nvidia-smi description,
# revision, every step's status, every result, each target's ratio). Runs THERE, in a copy of the repository
# with build/gpu-bundle carried beside it (made here by bench/gpu/bundle.sh; DEVELOPERS.md tells the story).
#
#   bash bench/gpu/run.sh [--quick] [--skip-build] [--only GROUPS] [--budget SECONDS] [--shared-weights]
#                         [--bundle DIR] [--copy-to DIR]
#
# Steps, in order; a failing step is recorded and the next one runs; the exit status is 1 when any failed
# or was not run for lack of time (--budget):
#   build      CMake + Ninja: -DEXEGPT_CUDA=ON, this GPU's architecture, the bundle as CMAKE_PREFIX_PATH
#   parity     exegpt-ops --backend cuda (bf16 and f16; --full unless --quick), e2e_parity (CPU vs CUDA)
#   nccl       nccl_check (NCCL from the nvidia-nccl wheel of this python3)
#   cli        the bundle's self-contained exegpt CLI on the libexegpt built here
#   sanitizer  compute-sanitizer memcheck on exegpt-ops' quick sweep, racecheck on its attention ops
#   kernels    peers.py (copy, SDPA flash, torch.matmul) and exegpt-gpu-bench (copy, prefill and decode
#              attention, FFN GEMMs) over the same shapes
#   e2e        OPT-13B-shaped decode: transformers generate (peers.py) and exegpt-gpu-bench
# GROUPS is a comma-separated list of: parity, nccl, cli, sanitizer, kernels, e2e, or bench (= kernels,e2e);
# the steps run in the order above whatever the order of the list.
# After every step the merged JSON is rewritten (an existing file of the same GPU and date is updated, so
# separate calls add up) and, with --copy-to (default: $OUT when set), it and a tarball of the logs are copied
# there: whatever finished is kept even if the command is stopped. Under the device tool ($OUT set) the
# budget defaults to 570 s (its commands stop at 600 s). EXEGPT_REVISION=<git hash> names the revision when
# the copy has no .git (default: the bundle manifest's).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

readonly BUILD=build/gpu-native          # CMake tree (kept between calls on a warm machine)
readonly ARTIFACTS=$ROOT/$BUILD/artifacts
readonly PREFIX=$ROOT/build/gpu-prefix   # the bundle's packages, unpacked
readonly STATE=build/gpu-run             # this call's logs, step statuses and raw results
readonly RESULTS_DIR=bench/results
readonly ALL_GROUPS=(parity nccl cli sanitizer kernels e2e)
readonly COMMAND="bash bench/gpu/run.sh $*"

quick=0 skip_build=0 shared_weights=0
budget=0
if [[ -n ${OUT:-} ]]; then budget=570; fi  # the device tool stops a command at 600 s
bundle=build/gpu-bundle
copy_to=${OUT:-}
groups=("${ALL_GROUPS[@]}")

log() { printf '[run.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf 'run.sh: error: %s\n' "$*" >&2; exit 2; }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --quick           smaller sweeps (quick parity sweep, fewer shapes, a 4-layer model): a smoke run
  --skip-build      use the existing build/gpu-native (a warm machine after an earlier call); without one
                    it builds anyway. Rarely worth it: on a warm machine the build step is incremental
  --only GROUPS     run only these groups (the build still runs unless --skip-build)
  --budget SECONDS  wall-clock budget of this call: a step that cannot finish in what is left is not
                    started (recorded as such) and step timeouts shrink to fit (default: 570 when $OUT is
                    set, as under the device tool's 600 s limit; 0 = none)
  --shared-weights  e2e: peers.py saves its model (save_pretrained, 26 GB for 40 layers) and exegpt loads
                    it; default: each side builds seeded random weights (decode speed does not depend on
                    the values, and the save + load costs minutes)
  --bundle DIR      the bundle folder (default build/gpu-bundle)
  --copy-to DIR     copy the merged JSON and the logs there after every step (default: $OUT when set)
EOF
}

while (($#)); do
    case $1 in
        --quick) quick=1; shift ;;
        --skip-build) skip_build=1; shift ;;
        --only)
            (($# >= 2)) || die "--only needs a list"
            IFS=, read -ra requested <<<"$2"
            groups=()
            for g in "${requested[@]}"; do
                case $g in
                    bench) groups+=(kernels e2e) ;;
                    parity | sanitizer | nccl | cli | kernels | e2e) groups+=("$g") ;;
                    *) die "--only: unknown group '$g' (parity, sanitizer, nccl, cli, kernels, e2e, bench)" ;;
                esac
            done
            shift 2 ;;
        --budget)
            if (($# < 2)) || [[ ! $2 =~ ^[0-9]+$ ]]; then die "--budget needs a number of seconds"; fi
            budget=$2; shift 2 ;;
        --shared-weights) shared_weights=1; shift ;;
        --bundle) (($# >= 2)) || die "--bundle needs a folder"; bundle=$2; shift 2 ;;
        --copy-to) (($# >= 2)) || die "--copy-to needs a folder"; copy_to=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done
wants() { [[ " ${groups[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------------
# Steps: each runs under a timeout with its own log; its status goes to $STATE/steps.tsv. Each limit is a
# few times the step's expected length on an H100, so a hung step cannot starve the ones after it.

rm -rf "$STATE"
mkdir -p "$STATE/logs" "$STATE/results"
: >"$STATE/steps.tsv"
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
readonly STARTED
failed=0
not_run=0
last_status=""

# Seconds a step may take: its own limit, cut to what the budget leaves (minus a margin for timeout's
# --kill-after and the merge).
step_limit() {
    local limit=$1
    if ((budget > 0 && budget - SECONDS - 30 < limit)); then
        limit=$((budget - SECONDS - 30))
    fi
    echo "$limit"
}

record() {  # name status rc seconds note
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5//$'\t'/ }" >>"$STATE/steps.tsv"
}

# run_step NAME LIMIT_SECONDS COMMAND...: exit 0 passed, 77 skipped (the program's own "nothing to check"),
# 124/137 timed out, anything else failed; the status is left in last_status.
run_step() {
    local name=$1 limit
    limit=$(step_limit "$2")
    shift 2
    local logfile=$STATE/logs/$name.log
    if ((limit < 30)); then
        log "$name: not started (the --budget leaves ${limit}s)"
        record "$name" "not run" "" 0 "time budget"
        last_status="not run"
        not_run=$((not_run + 1))
        merge
        return 0
    fi
    log "$name: $* (limit ${limit}s, log $logfile)"
    local t0=$SECONDS rc=0
    timeout --kill-after=10 "$limit" "$@" >"$logfile" 2>&1 || rc=$?
    local status=passed
    case $rc in
        0) ;;
        77) status=skipped ;;
        124 | 137) status="timed out"; failed=$((failed + 1)) ;;
        *) status=failed; failed=$((failed + 1)) ;;
    esac
    log "$name: $status (rc $rc, $((SECONDS - t0)) s)"
    tail -n 4 "$logfile" | sed 's/^/    | /'
    record "$name" "$status" "$rc" "$((SECONDS - t0))" ""
    last_status=$status
    merge
}

# A step that cannot run here (a tool or program missing): recorded as failed, with the reason.
missing_step() {
    log "$1: FAILED ($2)"
    record "$1" failed "" 0 "$2"
    failed=$((failed + 1))
    merge
}

merge() {
    local out
    if ! out=$(python3 bench/gpu/merge.py --state "$STATE" --results-dir "$RESULTS_DIR" --revision "$revision" \
        --started "$STARTED" --command "$COMMAND" 2>"$STATE/logs/merge.err"); then
        log "merge.py failed: $(tail -n 3 "$STATE/logs/merge.err")"
        return 0
    fi
    merged=$out
    if [[ -n $copy_to ]]; then
        mkdir -p "$copy_to"
        cp "$merged" "$copy_to"/ || log "cannot copy $merged to $copy_to"
        tar -C "$STATE" -czf "$copy_to/gpu-run-logs.tar.gz" logs steps.tsv ||
            log "cannot write $copy_to/gpu-run-logs.tar.gz"
    fi
}

# ---------------------------------------------------------------------------------------------------
# The machine: GPU, CUDA, Python, NCCL, the bundle.

revision=unknown
merged=""
if [[ -n ${EXEGPT_REVISION:-} ]]; then
    revision=$EXEGPT_REVISION
elif git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1; then
    revision=$(git -C "$ROOT" rev-parse HEAD)
    if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no) ]]; then revision+=+dirty; fi
elif [[ -f $bundle/manifest.json ]]; then
    revision=$(python3 -c 'import json, sys; m = json.load(open(sys.argv[1]))
print(m["git_revision"] + ("+dirty" if m["git_dirty"] else ""), "(bundle.sh'"'"'s checkout)")' "$bundle/manifest.json")
fi
log "ExeGPT GPU run at $revision; groups: ${groups[*]}$( ((quick)) && echo ' (quick)')$( ((budget)) && echo ", budget ${budget}s")"

command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this is not a GPU machine"
nvidia-smi -q >"$STATE/nvidia-smi-q.txt" 2>&1 || die "nvidia-smi -q failed: $(tail -n 2 "$STATE/nvidia-smi-q.txt")"
log "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 1 || true)"
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' .' || true)
if [[ ! $arch =~ ^[0-9]+$ ]]; then
    log "compute capability unreadable ('$arch'): building for 90"
    arch=90
fi

nvcc=$(command -v nvcc || true)
for candidate in "${CUDA_HOME:-}/bin/nvcc" "${CUDA_PATH:-}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
    if [[ -z $nvcc && -x $candidate ]]; then nvcc=$candidate; fi
done
[[ -n $nvcc ]] || die "nvcc not found (PATH, \$CUDA_HOME, /usr/local/cuda)"
log "nvcc: $nvcc ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
sanitizer=$(command -v compute-sanitizer || true)
if [[ -z $sanitizer && -x $(dirname "$nvcc")/compute-sanitizer ]]; then sanitizer=$(dirname "$nvcc")/compute-sanitizer; fi
log "python3: $(python3 -c 'import sys, torch
print(sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1 | tail -n 1 || true)"

# NCCL ships as the nvidia-nccl wheel: its folder holds include/nccl.h and lib/libnccl.so.2. A namespace
# package has no __file__, hence __path__.
nccl_dir=$(python3 -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null || true)
nccl_lib=""
if [[ -n $nccl_dir ]]; then
    nccl_lib=$(find "$nccl_dir" -name 'libnccl.so*' \( -type f -o -type l \) 2>/dev/null | sort | head -n 1 || true)
fi
if [[ -z $nccl_lib ]]; then  # another layout of the wheel: any libnccl under site-packages/nvidia
    site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || true)
    if [[ -n $site && -d $site/nvidia ]]; then
        nccl_lib=$(find "$site/nvidia" -name 'libnccl.so*' \( -type f -o -type l \) 2>/dev/null | sort | head -n 1 || true)
        if [[ -n $nccl_lib ]]; then nccl_dir=$(dirname "$(dirname "$nccl_lib")"); fi
    fi
fi
if [[ -n $nccl_lib ]]; then
    export EXEGPT_NCCL_LIBRARY=$nccl_lib EXEGPT_NCCL_ROOT=$nccl_dir
    log "NCCL: $EXEGPT_NCCL_LIBRARY"
else
    log "NCCL: no nvidia-nccl wheel found for python3 (the nccl step will say so)"
fi

# The bundle's OpenBLAS and nlohmann_json, unpacked once per bundle (its manifest names it).
[[ -f $bundle/prefix.tar.xz ]] ||
    die "$bundle/prefix.tar.xz not found: run bench/gpu/bundle.sh on the development machine and carry $bundle"
if ! cmp -s "$bundle/manifest.json" "$PREFIX/manifest.json" 2>/dev/null; then
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX"
    # tar needs the xz program, which the machine may lack; Python's lzma module then does it.
    tar -C "$PREFIX" -xJf "$bundle/prefix.tar.xz" 2>/dev/null ||
        python3 -c 'import sys, tarfile
t = tarfile.open(sys.argv[1])
t.extractall(sys.argv[2], **({"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}))
' "$bundle/prefix.tar.xz" "$PREFIX"
    cp "$bundle/manifest.json" "$PREFIX/manifest.json"
fi
# OpenBLAS's Fortran runtime is not on this machine: our programs (and the linker, for the libraries they
# link) find it here. The toolkit's library folder too, in case the CUDA library's RPATH lacks it (CMake
# leaves implicit link folders out) and ld.so.conf does not name it. Only exegpt's processes get this
# path; python3 keeps its own. No empty entry: that would mean the current folder.
cuda_root=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
lib_path=$(find "$PREFIX/usr/lib" -mindepth 1 -maxdepth 2 -type d | sort | paste -sd: -)
for dir in "$cuda_root/lib64" "$cuda_root/targets/x86_64-linux/lib"; do
    if [[ -d $dir ]]; then lib_path+=:$dir; fi
done
if [[ -n ${LD_LIBRARY_PATH:-} ]]; then lib_path+=:$LD_LIBRARY_PATH; fi
engine_env=(env "LD_LIBRARY_PATH=$lib_path" "EXEGPT_NATIVE_PATH=$ARTIFACTS")
merge

# ---------------------------------------------------------------------------------------------------
# build

# Warnings are not errors here: this machine's compiler is newer than CI's (GCC 12), and a new warning
# must not cost the GPU run; they stay in the build log.
configure=(cmake -S native -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEXEGPT_BUILD_TESTS=OFF -DEXEGPT_CUDA=ON
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCMAKE_PREFIX_PATH="$PREFIX/usr"
    -DEXEGPT_ARTIFACTS_DIR="$ARTIFACTS" -DEXEGPT_WARNINGS_AS_ERRORS=OFF)
if command -v ninja >/dev/null; then configure+=(-G Ninja); fi
if [[ -n $nccl_dir ]]; then configure+=(-DEXEGPT_NCCL_ROOT="$nccl_dir"); fi
build_ok=1
if ((skip_build)) && [[ ! -f $BUILD/CMakeCache.txt ]]; then
    log "--skip-build: no earlier build here (a fresh machine): building"
    skip_build=0
fi
if ((skip_build)); then
    log "build: skipped (--skip-build)"
else
    run_step configure 300 "${engine_env[@]}" "${configure[@]}"
    if [[ $last_status == passed ]]; then
        run_step build 1500 "${engine_env[@]}" cmake --build "$BUILD" -j"$(nproc)"
    fi
    [[ $last_status == passed ]] || build_ok=0
fi

# A built program by name (the first executable of that name under the build tree); none when this call's
# build failed, so no step runs an earlier build's binary.
program() {
    if [[ $build_ok == 1 ]]; then find "$ROOT/$BUILD" -name "$1" -type f -perm -u+x 2>/dev/null | sort | head -n 1; fi
}
not_built() {
    if [[ $build_ok == 1 ]]; then echo "the build made no $1"; else echo "not run: the build failed"; fi
}

# ---------------------------------------------------------------------------------------------------
# parity, nccl, cli, sanitizer (the quick, telling steps before the slow one)

if wants parity; then
    ops=$(program exegpt-ops)
    if [[ -z $ops ]]; then
        missing_step parity "$(not_built exegpt-ops)"
    else
        sweep=(--full)
        ((quick)) && sweep=()
        for dtype in bf16 f16; do
            run_step "parity-$dtype" 420 "${engine_env[@]}" "$ops" --backend cuda --dtype "$dtype" "${sweep[@]}" \
                --json "$STATE/results/parity-$dtype.json"
        done
    fi
    e2e=$(program e2e_parity)
    if [[ -z $e2e ]]; then
        missing_step e2e-parity "$(not_built e2e_parity)"
    else
        run_step e2e-parity 300 "${engine_env[@]}" "$e2e" --target cuda --dtype all
    fi
fi

if wants nccl; then
    nccl_check=$(program nccl_check)
    if [[ -z $nccl_check ]]; then
        missing_step nccl "$(not_built nccl_check)"
    else
        run_step nccl 180 "${engine_env[@]}" "$nccl_check"
    fi
fi

if wants cli; then
    if [[ $build_ok != 1 ]]; then
        missing_step cli "not run: the build failed"
    elif [[ ! -f $bundle/exegpt ]]; then
        missing_step cli "$bundle/exegpt not found (bundle.sh ran with --no-cli?)"
    else
        [[ -x $bundle/exegpt ]] || chmod +x "$bundle/exegpt" || true  # in case the copy lost the mode
        # shellcheck disable=SC2054 # commas separate the token ids of one argument
        cli_args=(generate --model opt-125m --prompt-tokens 2,31414,232,328,740,1140,12695,69 --max-new-tokens 16 --greedy)
        # The CUDA backend when this CLI offers a choice of backend.
        cli_help=$(timeout 60 "${engine_env[@]}" "$bundle/exegpt" generate --help 2>&1 || true)
        if [[ $cli_help == *--backend* ]]; then cli_args+=(--backend cuda); fi
        run_step cli 180 "${engine_env[@]}" "$bundle/exegpt" "${cli_args[@]}"
    fi
fi

if wants sanitizer; then
    ops=$(program exegpt-ops)
    if [[ -z $sanitizer ]]; then
        missing_step sanitizer "compute-sanitizer not found (PATH, beside nvcc)"
    elif [[ -z $ops ]]; then
        missing_step sanitizer "$(not_built exegpt-ops)"
    else
        # The quick sweep covers every op and kernel path; under memcheck the full one would take too long.
        run_step memcheck 420 "${engine_env[@]}" "$sanitizer" --tool memcheck --error-exitcode 1 \
            "$ops" --backend cuda --dtype bf16
        run_step racecheck 300 "${engine_env[@]}" "$sanitizer" --tool racecheck --error-exitcode 1 \
            "$ops" --backend cuda --dtype bf16 --filter attention
    fi
fi

# ---------------------------------------------------------------------------------------------------
# benchmarks: the same shape lists go to both programs

# shellcheck disable=SC2054 # commas separate the values of one argument
if ((quick)); then
    common=(--samples 5 --prefill-lengths 512,2048,8192 --gemm-m 1,128,2048)
    exegpt_only=(--decode-batches 1,16,256 --decode-contexts 512,2048,8192)
    e2e_args=(--e2e-batches 1,32 --layers 4 --new-tokens 32 --rounds 1)
else
    common=(--samples 11 --prefill-lengths 512,1024,2048,4096,8192 --gemm-m 1,16,128,512,2048,8192)
    exegpt_only=(--decode-batches 1,4,16,64,256 --decode-contexts 512,1024,2048,4096,8192)
    e2e_args=(--e2e-batches 1,4,16,32,64,128 --layers 40 --new-tokens 128 --rounds 2)
fi
common+=(--prefill-tokens 8192 --prefill-heads 32 --head-dim 128 --hidden 5120 --ffn 20480 --dtype bf16)
e2e_args+=(--prompt-len 128 --dtype bf16)
bench=$(program exegpt-gpu-bench)

if wants kernels; then
    run_step peers-kernels 420 env PYTHONUNBUFFERED=1 python3 bench/gpu/peers.py --only copy,prefill,gemm "${common[@]}" \
        --out "$STATE/results/peers-kernels.json"
    if [[ -z $bench ]]; then
        missing_step exegpt-kernels "$(not_built exegpt-gpu-bench)"
    else
        run_step exegpt-kernels 420 "${engine_env[@]}" "$bench" --only copy,prefill,decode,gemm "${common[@]}" \
            "${exegpt_only[@]}" --out "$STATE/results/exegpt-kernels.json"
    fi
fi

if wants e2e; then
    checkpoint=()
    if ((shared_weights)); then
        mkdir -p "$STATE/checkpoint"
        checkpoint=(--checkpoint "$ROOT/$STATE/checkpoint")
    fi
    run_step peers-e2e 540 env PYTHONUNBUFFERED=1 python3 bench/gpu/peers.py --only e2e "${e2e_args[@]}" \
        "${checkpoint[@]}" --out "$STATE/results/peers-e2e.json"
    if ((shared_weights)) && [[ ! -f $STATE/checkpoint/config.json ]]; then
        log "e2e: peers.py saved no checkpoint: exegpt builds seeded random weights instead"
        checkpoint=()
    fi
    if [[ -z $bench ]]; then
        missing_step exegpt-e2e "$(not_built exegpt-gpu-bench)"
    else
        run_step exegpt-e2e 540 "${engine_env[@]}" "$bench" --only e2e "${e2e_args[@]}" "${checkpoint[@]}" \
            --out "$STATE/results/exegpt-e2e.json"
    fi
    rm -rf "$STATE/checkpoint"  # up to 26 GB of the machine's disk
fi

# ---------------------------------------------------------------------------------------------------

log "steps:"
awk -F'\t' '{ printf "    %-16s %-10s %6s s  %s\n", $1, $2, $4, $5 }' "$STATE/steps.tsv"
log "results: ${merged:-none (merge.py failed: see $STATE/logs/merge.err)}"
[[ -n $copy_to ]] && log "copied to $copy_to: $(basename "${merged:-?}") gpu-run-logs.tar.gz"
if ((not_run)); then log "$not_run step(s) not run (time budget): give them another call (--only)"; fi
if ((failed)); then
    log "$failed step(s) failed"
    exit 1
fi
if ((not_run)); then exit 1; fi
log "all steps passed"

#!/usr/bin/env bash
# The one entry point for ExeGPT.NET on Linux (Debian 12): installs what is missing, builds the native
# engine and the .NET solution, runs the tests, the CLI and the benchmarks.
#
#   ./build.sh [setup|build|test|run|bench|bindings [--check]|publish|clean|help] [args...]   (default: build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

readonly CONFIG=Release
readonly SLN=ExeGPT.Native.sln
readonly NATIVE_BUILD=build/native
readonly NATIVE_OUT=artifacts/native     # CMake copies the shared libraries here (native/CMakeLists.txt)
readonly BIN_DIR=artifacts/bin
readonly PUBLISH_DIR=artifacts/publish/linux-x64
readonly RESULTS_DIR=build/test-results
readonly CLI_PROJECT=src/ExeGPT.Cli
readonly TEST_PROJECT=tests/ExeGPT.Tests
readonly PLANNING_TEST_PROJECT=tests/ExeGPT.Planning.Tests   # simulator/scheduler: pure managed, no native library
readonly GENERATOR_PROJECT=bindings/generator/ExeGPT.BindingsGenerator
# libclang1-14 is loaded at run time by the bindings generator, with its builtin headers (stddef.h, ...)
# from libclang-common-14-dev; the rest is the native build, whose
# BLAS discovery (cmake/ExeGptBlas.cmake) wants the OpenMP build of OpenBLAS.
readonly APT_PACKAGES=(cmake g++ make pkg-config libopenblas-openmp-dev nlohmann-json3-dev libgtest-dev libclang1-14 libclang-common-14-dev)
# The default `run`: OPT-125m (seeded random weights) on a short prompt of OPT token ids.
readonly DEFAULT_MODEL=opt-125m
readonly DEFAULT_PROMPT_TOKENS=2,31414,232,328,740,1140,12695,69
readonly DEFAULT_MAX_NEW_TOKENS=16

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '==> %s\n' "$*"; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<EOF
usage: ./build.sh [command] [args...]

  setup                 install missing system packages (apt), check the .NET SDK, restore NuGet packages
  build                 (default) setup, build the native engine and the solution, put the CLI in $BIN_DIR/
  test                  build, check the generated bindings, run CTest and NUnit; last line: N passed, N failed, N skipped
  run [run args]        build, then the main job: exegpt run (profile -> schedule -> run opt-125m on 2 CPU ranks, task S;
                        measured next to predicted for the chosen schedule, the best of the other family and static batching)
  generate [args]       build, then: exegpt generate --model $DEFAULT_MODEL --prompt-tokens ... --max-new-tokens $DEFAULT_MAX_NEW_TOKENS --greedy
                        (an option you pass replaces its default)
  bench [args]          build, then run the native benchmark (JSON in bench/results/cpu-<host>.json unless --out FILE)
  bench scheduler [--quick]  build, then time branch-and-bound against exhaustive search (bench/results/scheduler-<host>.json)
  bindings [--check]    regenerate the C# bindings from native/include/exegpt/exegpt.h (--check: fail when stale)
  publish               self-contained single-file CLI for machines without .NET, in $PUBLISH_DIR/
  clean                 remove build/ and artifacts/

Environment: EXEGPT_CMAKE_ARGS  extra options for the CMake configure step
             EXEGPT_CUDA       ON (default on Debian: installs CUDA 11.8 when nvcc is missing, so every build
                               compile-checks the CUDA backend), AUTO (build it when nvcc is found) or OFF
EOF
}

# ---------------------------------------------------------------------------------------------------
# setup

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root is needed to run '$*': run as root or install sudo"
    fi
}

missing_packages() {
    local pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        # `dpkg -s` also succeeds for removed packages whose config files remain; the status says which.
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$pkg"
    done
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "not a Debian system: make sure these (or their equivalents) are installed: ${APT_PACKAGES[*]}"
        return 0
    fi
    local missing
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

require_dotnet() {
    # dotnet-install.sh puts the SDK in ~/.dotnet without touching PATH.
    if ! command -v dotnet >/dev/null 2>&1 && [[ -x $HOME/.dotnet/dotnet ]]; then
        export DOTNET_ROOT=$HOME/.dotnet PATH=$HOME/.dotnet:$PATH
    fi
    if command -v dotnet >/dev/null 2>&1 &&
        dotnet --list-sdks 2>/dev/null | awk -F. '$1 >= 10 { found = 1 } END { exit !found }'; then
        return 0
    fi
    cat >&2 <<'EOF'
build.sh: error: the .NET 10 SDK is required ('dotnet' with an SDK 10.x on PATH) and build.sh does not download it.
Install it on Debian 12 from Microsoft's package feed:
    wget https://packages.microsoft.com/config/debian/12/packages-microsoft-prod.deb
    sudo dpkg -i packages-microsoft-prod.deb && sudo apt-get update && sudo apt-get install -y dotnet-sdk-10.0
or with the install script (into ~/.dotnet, which build.sh also looks at):
    curl -sSL https://dot.net/v1/dotnet-install.sh | bash -s -- --channel 10.0
See https://dotnet.microsoft.com/download/dotnet/10.0
EOF
    exit 1
}

# Tools only, no NuGet restore: for commands whose own `dotnet` call restores.
require_tools() {
    install_system_packages
    require_dotnet
}

cmd_setup() {
    require_tools
    dotnet restore "$SLN"
}

# The CUDA backend is compile-checked wherever the native engine is built (CI included), GPU or not.
# Debian ships CUDA 11.8 as nvidia-cuda-toolkit in its non-free component, which the default sources leave
# out: a sources file on the same mirror enables it (~2.3 GB download, once).
enable_debian_nonfree() {
    # Already enabled? ("non-free" as a whole component name: "non-free-firmware" does not count)
    if grep -rqsE '^[^#]*[[:space:]]non-free([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
    local codename uri=''
    # shellcheck disable=SC1091 # the system's file
    codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    [[ -n $codename ]] || die "cannot tell the Debian release (no VERSION_CODENAME in /etc/os-release) to enable non-free"
    # The mirror the main archive comes from (deb822 or one-line format), else Debian's own.
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources | head -n 1)
    fi
    if [[ -z $uri && -f /etc/apt/sources.list ]]; then
        uri=$(awk -v suite="$codename" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list)
    fi
    uri=${uri:-http://deb.debian.org/debian}
    log "enabling Debian contrib/non-free ($uri $codename) for nvidia-cuda-toolkit"
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" "$codename" "$codename" | as_root tee /etc/apt/sources.list.d/exegpt-nonfree.sources >/dev/null
}

install_cuda_toolkit() {
    if command -v nvcc >/dev/null 2>&1; then return 0; fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "nvcc not found and no apt-get: install a CUDA toolkit (11.8 or newer) to build the CUDA backend"
        return 0
    fi
    enable_debian_nonfree
    log "installing nvidia-cuda-toolkit (CUDA compiler for the CUDA backend)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit
    command -v nvcc >/dev/null 2>&1 || die "nvidia-cuda-toolkit is installed but nvcc is not on PATH"
}

# EXEGPT_CUDA for CMake: what the caller asked for, else ON where nvcc is (now) available, else AUTO.
cuda_mode() {
    if [[ -n ${EXEGPT_CUDA:-} ]]; then
        printf '%s' "$EXEGPT_CUDA"
    elif command -v nvcc >/dev/null 2>&1; then
        printf 'ON'
    else
        printf 'AUTO'
    fi
}

# ---------------------------------------------------------------------------------------------------
# build

build_native() {
    log "native engine ($NATIVE_BUILD)"
    # Only a required CUDA backend (the default) installs a toolkit; AUTO uses one if present.
    case ${EXEGPT_CUDA:-ON} in
        ON | on) install_cuda_toolkit ;;
    esac
    # Re-configuring an existing tree is cheap and picks up EXEGPT_CMAKE_ARGS changes (given last: they win).
    # shellcheck disable=SC2086 # EXEGPT_CMAKE_ARGS is a list of options: word splitting is wanted
    cmake -S native -B "$NATIVE_BUILD" -DCMAKE_BUILD_TYPE="$CONFIG" -DEXEGPT_CUDA="$(cuda_mode)" ${EXEGPT_CMAKE_ARGS:-}
    cmake --build "$NATIVE_BUILD" -j"$(nproc)"
    [[ -f $NATIVE_OUT/libexegpt.so ]] || die "the native build did not produce $NATIVE_OUT/libexegpt.so"
}

build_managed() {
    log "managed solution ($SLN)"
    dotnet build "$SLN" -c "$CONFIG" --no-restore
    # A framework-dependent publish of what was just built gives a runnable apphost in one folder.
    dotnet publish "$CLI_PROJECT" -c "$CONFIG" --no-build -o "$BIN_DIR"
    cp "$NATIVE_OUT"/*.so "$BIN_DIR"/
}

cmd_build() {
    cmd_setup
    build_native
    build_managed
    cat <<EOF
==> built:
    native library   $NATIVE_OUT/libexegpt.so$([[ -f $NATIVE_OUT/libexegpt_cuda.so ]] && printf ' (+ libexegpt_cuda.so)')
    native tests     ctest --test-dir $NATIVE_BUILD
    CLI              $BIN_DIR/exegpt   (./build.sh run)
EOF
}

# ---------------------------------------------------------------------------------------------------
# test

# Prints "passed failed skipped" from CTest's JUnit file. A test CTest did not run counts as skipped
# only when a skip rule (SKIP_RETURN_CODE, SKIP_REGULAR_EXPRESSION) said so; otherwise (executable
# missing, failed fixture) it failed, as CTest itself reports it.
ctest_counts() {
    awk '
        /<testcase / {
            if (match($0, /status="[a-z]*"/)) status = substr($0, RSTART + 8, RLENGTH - 9)
            if (status == "run") passed++
            else if (status == "fail") failed++
            else if (status == "disabled") skipped++
            else if (status != "notrun") failed++
            next
        }
        status == "notrun" && /<skipped / {
            if ($0 ~ /message="SKIP_/) skipped++; else failed++
            status = ""
        }
        END { printf "%d %d %d\n", passed, failed, skipped }
    ' "$1"
}

# Prints "passed failed skipped" from a TRX file's <Counters>. NUnit's skipped, ignored and
# inconclusive tests are NotExecuted results that the counters leave out of "executed": they are
# total - passed - failed.
trx_counts() {
    local counters
    counters=$(grep -o '<Counters [^>]*>' "$1" | head -n 1)
    [[ -n $counters ]] || return 1
    local name value
    local -A count=()
    for name in total passed failed error timeout aborted; do
        value=$(sed -n "s/.* $name=\"\([0-9]*\)\".*/\1/p" <<<"$counters")
        count[$name]=${value:-0}
    done
    local passed=${count[passed]}
    local failed=$((count[failed] + count[error] + count[timeout] + count[aborted]))
    printf '%d %d %d\n' "$passed" "$failed" "$((count[total] - passed - failed))"
}

# Adds one test source's counts to the caller's passed/failed/skipped and prints them.
# $1: its name, $2: its exit status, $3: its results file, $4: the function that reads that file.
tally() {
    local name=$1 rc=$2 file=$3 reader=$4 p f s
    if [[ -f $file ]] && read -r p f s < <("$reader" "$file"); then
        # A run that failed without naming a failed test (a crash, a hang) still counts as one failure.
        ((rc == 0 || f > 0)) || f=1
    else
        echo "$name wrote no usable results ($file)" >&2
        p=0 f=1 s=0
    fi
    printf '%s: %d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

cmd_test() {
    cmd_build
    mkdir -p "$RESULTS_DIR"
    local junit=$ROOT/$RESULTS_DIR/ctest.xml trx_name=ExeGPT.Tests.trx planning_trx=ExeGPT.Planning.Tests.trx
    rm -f "$junit" "$RESULTS_DIR/$trx_name" "$RESULTS_DIR/$planning_trx"

    local bindings_rc=0 ctest_rc=0 nunit_rc=0 planning_rc=0
    log "generated bindings are up to date"
    run_generator --no-build --check || bindings_rc=$?

    log "native tests (CTest)"
    ctest --test-dir "$NATIVE_BUILD" --output-on-failure -j"$(nproc)" --timeout 600 --output-junit "$junit" ||
        ctest_rc=$?

    log "managed tests (NUnit)"
    dotnet test "$TEST_PROJECT" -c "$CONFIG" --no-build --logger "trx;LogFileName=$trx_name" \
        --results-directory "$RESULTS_DIR" --blame-hang-timeout 10m --blame-hang-dump-type none || nunit_rc=$?

    log "planner tests (NUnit: simulator, scheduler)"
    dotnet test "$PLANNING_TEST_PROJECT" -c "$CONFIG" --no-build --logger "trx;LogFileName=$planning_trx" \
        --results-directory "$RESULTS_DIR" --blame-hang-timeout 10m --blame-hang-dump-type none || planning_rc=$?

    local passed=0 failed=0 skipped=0
    tally CTest "$ctest_rc" "$junit" ctest_counts
    tally NUnit "$nunit_rc" "$RESULTS_DIR/$trx_name" trx_counts
    tally "NUnit (planner)" "$planning_rc" "$RESULTS_DIR/$planning_trx" trx_counts

    if ((bindings_rc != 0)); then
        echo "Bindings check: FAILED (run ./build.sh bindings and commit the result)"
        failed=$((failed + 1))
    else
        echo "Bindings check: passed"
        passed=$((passed + 1))
    fi

    printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
    ((failed == 0))
}

# ---------------------------------------------------------------------------------------------------
# run, bench, bindings, publish, clean

# True when one of the comma-separated option names ($1) appears in the remaining arguments.
given() {
    local names arg name
    IFS=, read -ra names <<<"$1"
    shift
    for arg in "$@"; do
        for name in "${names[@]}"; do
            if [[ $arg == "$name" || $arg == "$name="* ]]; then return 0; fi
        done
    done
    return 1
}

cmd_run() {
    cmd_build
    # The main job: profile (cached) -> schedule -> run on CPU ranks -> measured next to predicted. Its defaults
    # (opt-125m, cpux2, task S, 96 queries, an automatic bound) live in the CLI; options passed here override them.
    log "$BIN_DIR/exegpt run $*"
    exec "$BIN_DIR/exegpt" run "$@"
}

cmd_generate() {
    cmd_build
    # Defaults only for what the caller did not choose: a repeated option is an error to the CLI.
    local defaults=()
    given --model,-m "$@" || defaults+=(--model "$DEFAULT_MODEL")
    given --prompt-tokens,-p "$@" || defaults+=(--prompt-tokens "$DEFAULT_PROMPT_TOKENS")
    given --max-new-tokens,-n "$@" || defaults+=(--max-new-tokens "$DEFAULT_MAX_NEW_TOKENS")
    given --greedy,--temperature,--top-k,--top-p "$@" || defaults+=(--greedy)
    log "$BIN_DIR/exegpt generate ${defaults[*]} $*"
    exec "$BIN_DIR/exegpt" generate "${defaults[@]}" "$@"
}

cmd_bench() {
    cmd_build
    if [[ ${1:-} == scheduler ]]; then
        shift
        local out=()
        given --out "$@" || out=(--out "bench/results/scheduler-${HOSTNAME:-$(date +%Y%m%d)}.json")
        exec dotnet run --project bench/scheduler -c "$CONFIG" --no-build -- "${out[@]}" "$@"
    fi
    local bench=$NATIVE_BUILD/bench/exegpt-bench
    [[ -x $bench ]] || die "$bench was not built"
    # Results are kept per machine unless the caller names the file.
    local out=()
    given --out "$@" || out=(--out "bench/results/cpu-${HOSTNAME:-$(date +%Y%m%d)}.json")
    mkdir -p bench/results
    exec "$bench" "${out[@]}" "$@"
}

# $1: an extra `dotnet run` option ("" for none); the rest goes to the generator.
run_generator() {
    local run_option=$1
    shift
    dotnet run --project "$GENERATOR_PROJECT" -c "$CONFIG" ${run_option:+"$run_option"} -- "$@"
}

cmd_bindings() {
    require_tools
    run_generator "" "$@"
}

# The machines the publish is for (the GPU machine among them) have no OpenBLAS: carry it and its
# Fortran and OpenMP runtimes (libexegpt.so finds them through its RPATH $ORIGIN).
bundle_blas() {
    local lib
    ldd "$NATIVE_OUT/libexegpt.so" | awk '$1 ~ /^lib(openblas|gfortran|quadmath|gomp)/ && $3 ~ /^\// { print $3 }' |
        while read -r lib; do cp -L "$lib" "$1"/; done
}

cmd_publish() {
    cmd_setup
    build_native
    log "self-contained CLI ($PUBLISH_DIR)"
    dotnet publish "$CLI_PROJECT" -c "$CONFIG" -r linux-x64 --self-contained \
        -p:PublishTrimmed=true -p:PublishSingleFile=true -o "$PUBLISH_DIR"
    cp "$NATIVE_OUT"/*.so "$PUBLISH_DIR"/
    bundle_blas "$PUBLISH_DIR"
    log "published: $PUBLISH_DIR/exegpt (copy the whole folder; the target needs no .NET)"
}

cmd_clean() {
    rm -rf build artifacts
    log "removed build/ and artifacts/"
}

# ---------------------------------------------------------------------------------------------------

no_args() { (($# == 0)) || die "'$subcommand' takes no arguments (got: $*)"; }

subcommand=${1:-build}
(($# == 0)) || shift
case $subcommand in
    setup) no_args "$@"; cmd_setup ;;
    build) no_args "$@"; cmd_build ;;
    test) no_args "$@"; cmd_test ;;
    run) cmd_run "$@" ;;
    generate) cmd_generate "$@" ;;
    bench) cmd_bench "$@" ;;
    bindings) cmd_bindings "$@" ;;
    publish) no_args "$@"; cmd_publish ;;
    clean) no_args "$@"; cmd_clean ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac

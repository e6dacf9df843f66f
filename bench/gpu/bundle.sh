#!/usr/bin/env bash
# Prepares build/gpu-bundle/: what the GPU machine lacks to build and run ExeGPT (it has CMake, CUDA and
# PyTorch, but no OpenBLAS, no nlohmann_json and no .NET, and no network). Runs HERE (Debian 12, with apt
# lists and network); the folder then travels to the GPU machine as a carried path, where
# bench/gpu/run.sh unpacks and uses it.
#
#   bash bench/gpu/bundle.sh [--out DIR] [--no-cli]
#
# Contents (kept small: the device tool carries at most 64 MiB with the working tree):
#   prefix.tar.xz   Debian packages unpacked with dpkg -x and pruned to what the build links: nlohmann_json
#                   (headers + relocatable CMake config), the OpenMP OpenBLAS (shared library + cblas.h; no
#                   static archives) and its Fortran runtime (libgfortran5, libquadmath0). Unpacked, its
#                   usr/ folder is a CMAKE_PREFIX_PATH entry (cmake/ExeGptBlas.cmake looks there first).
#                   libgomp is NOT carried: it comes with the GPU machine's compiler, and an older copy on
#                   the library path could shadow the one that compiler's code needs.
#   exegpt          the CLI, self-contained single-file publish (no .NET there); it loads the libexegpt.so
#                   that run.sh builds there (EXEGPT_NATIVE_PATH).
#   manifest.json   git revision, date, package versions, sizes (run.sh reports the revision from it when
#                   the copy it runs in has no .git).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

readonly PACKAGES=(nlohmann-json3-dev libopenblas0-openmp libopenblas-openmp-dev libgfortran5 libquadmath0)
readonly LIMIT_MIB=60

out=build/gpu-bundle
with_cli=1

log() { printf '==> %s\n' "$*"; }
die() { printf 'bundle.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<EOF
usage: bash bench/gpu/bundle.sh [--out DIR] [--no-cli]

Builds the GPU-machine bundle (default: $out): OpenBLAS + nlohmann_json as a CMake prefix (prefix.tar.xz),
the self-contained CLI (exegpt), manifest.json. Carry it to the GPU machine and run: bash bench/gpu/run.sh
  --out DIR   where to put the bundle, relative to the repository root (an earlier bundle there is replaced)
  --no-cli    skip the .NET publish (no SDK here); run.sh then skips its CLI step
EOF
}

while (($#)); do
    case $1 in
        --out) (($# >= 2)) || die "--out needs a folder"; out=$2; shift 2 ;;
        --no-cli) with_cli=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done

for tool in apt-get dpkg-deb xz python3; do
    command -v "$tool" >/dev/null || die "$tool is needed (this runs on a Debian or Ubuntu machine)"
done

# Replacing a folder is only safe when it is an earlier bundle (or empty).
if [[ -d $out && -n $(ls -A "$out") && ! -f $out/manifest.json ]]; then
    die "$out exists and is not a bundle (no manifest.json): refusing to replace it"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/exegpt-gpu-bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Made in $work/bundle and moved to $out at the end: a failed run leaves the previous bundle as it was.
stage=$work/bundle
mkdir -p "$stage" "$work/debs" "$work/prefix"

# --- Debian packages -> a pruned prefix -----------------------------------------------------------
log "downloading ${PACKAGES[*]}"
apt_options=()
# As root, apt drops to the _apt user, which cannot write into a folder made by root: stay root.
((EUID == 0)) && apt_options=(-o APT::Sandbox::User=root)
(cd "$work/debs" && apt-get "${apt_options[@]}" download "${PACKAGES[@]}") ||
    die "apt-get download failed (no network, or stale lists: run 'apt-get update' as root)"

versions=()
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$work/prefix"
    versions+=("$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)")
done

# What the build does not link: documentation, static archives (58 MB), the BLAS/LAPACK alternatives'
# libblas/liblapack (we link libopenblas directly), pkg-config files and OpenBLASConfig.cmake (its absolute
# /usr paths would be wrong under the prefix).
prefix=$work/prefix/usr
rm -rf "$prefix/share/doc" "$prefix/share/lintian" "$prefix/share/pkgconfig"
find "$prefix" \( -name '*.a' -o -name 'libblas.so*' -o -name 'liblapack.so*' \) -delete
find "$prefix" -depth -type d \( -name pkgconfig -o -path '*/openblas-openmp/cmake' \) -exec rm -rf {} +
find "$prefix" -depth -type d -empty -delete

# The files the build and the run need, so a package reorganisation fails here and not on the GPU machine.
for f in include/nlohmann/json.hpp share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake \
    'lib/*/openblas-openmp/libopenblas.so' 'lib/*/openblas-openmp/libopenblas.so.0' \
    'include/*/openblas-openmp/cblas.h' 'lib/*/libgfortran.so.5' 'lib/*/libquadmath.so.0'; do
    # shellcheck disable=SC2086 # the glob in $f is meant to expand
    compgen -G "$prefix/"$f >/dev/null || die "the unpacked packages lack usr/$f"
done
tar -C "$work/prefix" -cJf "$stage/prefix.tar.xz" usr

# --- the CLI --------------------------------------------------------------------------------------
if ((with_cli)); then
    command -v dotnet >/dev/null || die "dotnet is needed for the CLI (or pass --no-cli)"
    log "publishing the self-contained CLI"
    # Own artifacts path: no obj/ or bin/ in the source tree, nothing shared with a concurrent build. An
    # empty ExeGptNativeDir keeps this machine's CPU-only libexegpt.so out of the publish (run.sh builds the
    # one with the CUDA backend there). Compression roughly halves the single file.
    mkdir -p "$work/no-native"
    dotnet publish src/ExeGPT.Cli -c Release -r linux-x64 --self-contained \
        -p:PublishTrimmed=true -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:DebugType=none \
        -p:ExeGptNativeDir="$work/no-native/" --artifacts-path "$work/dotnet" -o "$work/cli" -nologo -v:q
    [[ -x $work/cli/exegpt ]] || die "the publish produced no $work/cli/exegpt"
    cp "$work/cli/exegpt" "$stage/exegpt"
fi

# --- manifest -------------------------------------------------------------------------------------
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=false
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && dirty=true
python3 - "$stage" "$revision" "$dirty" "$with_cli" "${versions[@]}" <<'EOF'
import datetime, json, os, sys
out, revision, dirty, with_cli, *versions = sys.argv[1:]
files = {name: os.path.getsize(os.path.join(out, name)) for name in sorted(os.listdir(out))}
json.dump({
    "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "git_revision": revision,
    "git_dirty": dirty == "true",
    "packages": dict(v.split("=", 1) for v in versions),
    "cli": with_cli == "1",
    "files": files,
}, open(os.path.join(out, "manifest.json"), "w"), indent=2)
EOF

rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$stage" "$out"
total=$(du -sb "$out" | cut -f1)
log "bundle $out:"
(cd "$out" && du -b -- * | awk '{ printf "    %-16s %7.2f MiB\n", $2, $1 / 1048576 }')
printf '    %-16s %7.2f MiB (limit %d MiB)\n' total "$(awk -v b="$total" 'BEGIN { print b / 1048576 }')" "$LIMIT_MIB"
((total <= LIMIT_MIB * 1048576)) || die "the bundle exceeds $LIMIT_MIB MiB"
log "carry '$out' to the GPU machine and run: bash bench/gpu/run.sh"

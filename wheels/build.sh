#!/usr/bin/env bash
# Build a wheel of shardstream into wheels/dist/, then prove it installs and
# works in a fresh virtual environment.
#
# Usage: wheels/build.sh            (from anywhere; PYTHON=python3.12 to pick the interpreter)
#
# The wheel is built from a clean copy of the work tree (tracked files plus
# untracked, non-ignored ones), so stale build/ directories, in-place .so
# files and generated .c files never leak into it, and a build running in the
# work tree at the same time is not disturbed.  SOURCE_DATE_EPOCH is taken
# from the last git commit (or a fixed value outside git) so file timestamps
# in the wheel are reproducible.  The wheel's build requirements (setuptools,
# Cython, numpy) and the venv's runtime dependencies (numpy, pyarrow, click)
# come from the package index.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
dist="$here/dist"
python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || python=python

log() { printf '==> %s\n' "$*" >&2; }

if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    SOURCE_DATE_EPOCH="$(git -C "$root" log -1 --format=%ct 2>/dev/null || true)"
    # Fallback outside a git checkout: 2024-01-01T00:00:00Z.
    [[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || SOURCE_DATE_EPOCH=1704067200
fi
export SOURCE_DATE_EPOCH
export PYTHONHASHSEED=0

work="$(mktemp -d "${TMPDIR:-/tmp}/shardstream-wheel.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# -- 1. a clean copy of the sources -----------------------------------------------
log "copying sources from $root"
mkdir -p "$work/src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and untracked-but-not-ignored files that exist (deleted ones are skipped).
    (cd "$root" && git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [[ -f "$f" ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf -) | tar -xf - -C "$work/src"
else
    tar -C "$root" -cf - \
        --exclude=.git --exclude=build --exclude='wheels/dist' --exclude='*.so' \
        --exclude='*.egg-info' --exclude=__pycache__ --exclude='.venv*' \
        --exclude='csrc/shardstream/_*.c' --exclude='src/shardstream/*.c' . \
        | tar -xf - -C "$work/src"
fi
# pyproject names README.md as the long description; don't fail a build for lack of it.
[[ -f "$work/src/README.md" ]] || printf '# shardstream\n' >"$work/src/README.md"

# -- 2. the wheel ----------------------------------------------------------------------
# Keep the random temp path out of the binaries' debug info.
export CFLAGS="${CFLAGS:-} -ffile-prefix-map=$work/src=."
log "building the wheel (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
mkdir -p "$work/out" "$dist"
(cd "$work/src" && "$python" -m pip wheel . --no-deps --no-cache-dir -w "$work/out")
shopt -s nullglob
built=("$work"/out/shardstream-*.whl)
shopt -u nullglob
if [[ ${#built[@]} -ne 1 ]]; then
    echo "error: expected one shardstream wheel, found ${#built[@]}" >&2
    exit 1
fi
wheel="$dist/$(basename "${built[0]}")"
cp -f "${built[0]}" "$wheel"

# -- 3. install it into a fresh venv and use it --------------------------------------------
log "installing $(basename "$wheel") into a fresh venv"
"$python" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
"$venv_python" -m pip install --quiet --disable-pip-version-check "$wheel"

log "smoke test"
# Run from an empty directory with a clean environment so neither the work
# tree nor an editable install can be imported instead of the wheel.
mkdir -p "$work/empty"
(cd "$work/empty" && env -u PYTHONPATH -u PYTHONHOME \
    SHARDSTREAM_SRC="$root/src" SHARDSTREAM_VENV="$work/venv" "$venv_python" -I -c '
import os, pathlib, sys
import shardstream

mod = pathlib.Path(shardstream.__file__).resolve()
venv = pathlib.Path(os.environ["SHARDSTREAM_VENV"]).resolve()
src = pathlib.Path(os.environ["SHARDSTREAM_SRC"]).resolve()
assert venv in mod.parents, f"shardstream imported from {mod}, not from the venv {venv}"
assert src not in mod.parents, f"shardstream imported from the work tree: {mod}"
assert "site-packages" in mod.parts, mod

engine = shardstream.Engine()
stream = engine.create_stream("wheel-smoke", shard_count=2)
put = stream.put_record(b"hello wheel", "user-1")
it = stream.get_shard_iterator(put["ShardId"], "TRIM_HORIZON")["ShardIterator"]
records = stream.get_records(it)["Records"]
assert [r["Data"] for r in records] == [b"hello wheel"], records
assert records[0]["SequenceNumber"] == put["SequenceNumber"]
table = stream.read_table()
assert table.num_rows == 1 and table.column("data").to_pylist() == [b"hello wheel"], table
simd = "active" if shardstream.simd_available() else "not available"
print(f"shardstream {shardstream.__version__} from {mod.parent}: put/get/read_table OK, avx2 md5 {simd}")
')
"$work/venv/bin/shardstream" --version >/dev/null

# -- 4. report ---------------------------------------------------------------------------
log "built $wheel"
if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$wheel"
else
    "$python" -c 'import hashlib, sys; p = sys.argv[1]; print(hashlib.sha256(open(p, "rb").read()).hexdigest() + "  " + p)' "$wheel"
fi

#!/usr/bin/env bash
# Checks that each vendored crate patches/<crate> is exactly the crates.io release of <crate>
# with patches/<crate>.diff applied, and that every hunk of the diff carries an
# `sru-rs patch` marker. See patches/README.md.
#
#   bash patches/check.sh                verify (what CI runs); exits non-zero on any difference
#   bash patches/check.sh --write-diffs  regenerate patches/<crate>.diff from patches/<crate>
#
# The published crates come from cargo's registry cache ($CARGO_HOME/registry/cache); when they
# are not there (a clean CI machine: the workspace builds only the path copies), a scratch cargo
# project in a temporary folder fetches them from crates.io with the ordinary cargo client. Their
# SHA-256 (crates.io's checksums) are pinned below.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VERSION=0.21.0
CRATES=(burn-collective burn-communication)
declare -A SHA256=(
    [burn-collective]=427bdb9240bd1a41199066d44bc042341aa0cb0f46590d9af15eb88dd81066e7
    [burn-communication]=0da93381634fb6ef2fbf9a19415439b1658bcdf2e044a8909caa54b8960e63bb
)
CARGO="${CARGO:-cargo}"
CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
# Written by cargo when it unpacks a crate; not part of the crate.
EXCLUDE=.cargo-ok

mode=check
case "${1:-}" in
    "") ;;
    --write-diffs) mode=write ;;
    *) echo "usage: bash patches/check.sh [--write-diffs]" >&2; exit 2 ;;
esac

for tool in tar patch diff sha256sum awk sed; do
    command -v "$tool" >/dev/null || {
        echo "patches/check.sh: needs \`$tool\` (e.g. apt-get install patch diffutils)" >&2
        exit 1
    }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Prints the path of the cached .crate file of $1 whose SHA-256 is the pinned one, if any.
cached_crate() {
    local f
    for f in "$CARGO_HOME"/registry/cache/*/"$1-$VERSION.crate"; do
        if [[ -f "$f" ]] && [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "${SHA256[$1]}" ]]; then
            echo "$f"
            return 0
        fi
    done
    return 1
}

# Downloads the published crates into cargo's registry cache through a scratch project.
fetch_crates() {
    local scratch="$work/fetch" host
    mkdir -p "$scratch/src"
    : >"$scratch/src/lib.rs"
    {
        echo '[package]'
        echo 'name = "sru-rs-patches-fetch"'
        echo 'version = "0.0.0"'
        echo 'edition = "2021"'
        echo 'publish = false'
        echo
        echo '[dependencies]'
        for crate in "${CRATES[@]}"; do
            echo "$crate = { version = \"=$VERSION\", default-features = false }"
        done
    } >"$scratch/Cargo.toml"
    # The workspace's locked versions, so that little more than the two crates is downloaded.
    if [[ -f Cargo.lock ]]; then
        cp Cargo.lock "$scratch/Cargo.lock"
    fi
    host="$("${RUSTC:-rustc}" -vV | sed -n 's/^host: //p')"
    echo "patches/check.sh: fetching ${CRATES[*]} $VERSION from crates.io (cargo fetch)" >&2
    (cd "$scratch" && "$CARGO" fetch --quiet ${host:+--target "$host"})
}

# Unpacks the published crate $1 into $2/$1-$VERSION.
unpack() {
    local crate_file
    crate_file="$(cached_crate "$1")" || {
        echo "patches/check.sh: $1-$VERSION.crate with SHA-256 ${SHA256[$1]} is not in" \
            "$CARGO_HOME/registry/cache after cargo fetch" >&2
        exit 1
    }
    mkdir -p "$2"
    tar -xzf "$crate_file" -C "$2"
}

need_fetch=0
for crate in "${CRATES[@]}"; do
    cached_crate "$crate" >/dev/null || need_fetch=1
done
if ((need_fetch)); then
    fetch_crates
fi

# Fails for each hunk of the diff $1 that adds no line with an `sru-rs patch` marker.
check_markers() {
    awk -v diff="$1" '
        function done_hunk() {
            if (hunk != "" && !marked) {
                printf "%s: %s %s has no `sru-rs patch` marker\n", diff, file, hunk
                bad = 1
            }
            hunk = ""
        }
        /^diff / { done_hunk(); next }
        /^\+\+\+ / { file = $2; next }
        /^--- / { next }
        /^@@ / { done_hunk(); hunk = $0; marked = 0; next }
        /^\+/ && /sru-rs patch/ { marked = 1 }
        END { done_hunk(); exit bad }
    ' "$1"
}

status=0
for crate in "${CRATES[@]}"; do
    published="$work/published/$crate-$VERSION"
    unpack "$crate" "$work/published"
    diff_file="patches/$crate.diff"

    if [[ "$mode" == write ]]; then
        # a/ = the published crate, b/ = ours; timestamps dropped from the headers.
        mkdir -p "$work/gen/$crate"
        cp -a "$published" "$work/gen/$crate/a"
        cp -a "patches/$crate" "$work/gen/$crate/b"
        rm -f "$work/gen/$crate/b/$EXCLUDE"
        rc=0
        (cd "$work/gen/$crate" && LC_ALL=C TZ=UTC diff -ruN a b) >"$work/gen/$crate.diff" || rc=$?
        if ((rc > 1)); then
            echo "patches/check.sh: diff failed for $crate" >&2
            exit 1
        fi
        sed -E 's/^((---|\+\+\+) [^\t]*)\t.*$/\1/' "$work/gen/$crate.diff" >"$diff_file"
        echo "wrote $diff_file ($(wc -l <"$diff_file") lines)"
    fi

    patched="$work/patched/$crate"
    mkdir -p "$work/patched"
    cp -a "$published" "$patched"
    if ! (cd "$patched" && patch -p1 --quiet --fuzz=0 --no-backup-if-mismatch) <"$diff_file"; then
        echo "FAIL: $diff_file does not apply to the published $crate $VERSION" >&2
        status=1
        continue
    fi
    if ! diff -r --exclude="$EXCLUDE" "$patched" "patches/$crate" >"$work/$crate.out" 2>&1; then
        sed "s|$patched|<published $crate $VERSION + $crate.diff>|g" "$work/$crate.out" >&2
        echo "FAIL: patches/$crate is not the published $crate $VERSION + $diff_file" \
            "(after an edit, regenerate the diff: bash patches/check.sh --write-diffs)" >&2
        status=1
        continue
    fi
    if ! check_markers "$diff_file" >&2; then
        echo "FAIL: every changed region needs a \`sru-rs patch\` comment" >&2
        status=1
        continue
    fi
    hunks="$(grep -c '^@@ ' "$diff_file" || true)"
    files="$(grep -c '^diff ' "$diff_file" || true)"
    echo "ok: patches/$crate = published $crate $VERSION + $diff_file ($files files, $hunks hunks, all marked)"
done
exit "$status"

#!/usr/bin/env bash
# Ingest speed of an earlier revision against this checkout: `python -m benchmarks.ingest_corpus` for each,
# interleaved, so the machine's noise falls on both alike; compare the best first and second runs.
#
#     benchmarks/compare_ingest.sh REV [ROUNDS]      e.g. benchmarks/compare_ingest.sh 4fa65c6 3
#
# REV is checked out in a temporary git worktree with a virtualenv of its own (installed from the package
# registry, a few minutes the first time; both are removed at the end). Needs ../shared/corpus.
set -euo pipefail
rev=${1:?usage: benchmarks/compare_ingest.sh REV [ROUNDS]}
rounds=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
there=$(mktemp -d)
trap 'git -C "$here" worktree remove --force "$there/checkout" >/dev/null 2>&1 || true; rm -rf "$there"' EXIT
git -C "$here" worktree add --detach "$there/checkout" "$rev" >/dev/null
ln -s "$here/../shared" "$there/shared"
python3 -m venv "$there/checkout/.venv"
"$there/checkout/.venv/bin/pip" install --quiet -e "$there/checkout[test]"

run() {  # $1: label, $2: checkout, $3: its environment's bin folder (newsetl and python)
  (cd "$2" && PATH="$3:$PATH" "$3/python" -m benchmarks.ingest_corpus) | grep -E "wall seconds" | sed "s/^/$1: /"
}
this_bin=$(dirname "$(command -v newsetl)")  # the environment this checkout is installed in
for round in $(seq 1 "$rounds"); do
  run "$rev round $round" "$there/checkout" "$there/checkout/.venv/bin"
  run "this round $round" "$here" "$this_bin"
done

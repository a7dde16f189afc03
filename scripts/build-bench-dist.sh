#!/usr/bin/env bash
# Builds, on this machine, everything scripts/gpu-bench.sh runs on the GPU
# machine, into dist/bench/ (gzipped, to stay well inside what a device run
# may carry):
#
#   dist/bench/gan.gz         the gan binary, built from the working tree: with
#                             CUDA when nvcc is here, else CPU-only (the GPU
#                             rows then say "built without CUDA"); or $GAN_BIN
#   dist/bench/bench.test.gz  the Go benchmarks of bench/ (ours vs gonum and
#                             Gorgonia), a stripped test binary
#   dist/bench/COMMIT         the commit (with "+dirty" for uncommitted changes)
#
# Usage: scripts/build-bench-dist.sh   (then carry dist/bench to the GPU machine
# and run scripts/gpu-bench.sh there)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=dist/bench
rm -rf "$out"
mkdir -p "$out"

# The gan binary is built here from the working tree, so that it is the
# code COMMIT names: the CUDA build when nvcc is present (as make gpu-dist
# builds it), else a CPU-only one. $GAN_BIN packs a binary of your own
# instead (you vouch for its commit).
if [ -n "${GAN_BIN:-}" ]; then
	echo "gan: $GAN_BIN (given)"
	gzip -9 -c "$GAN_BIN" >"$out/gan.gz"
elif command -v "${NVCC:-nvcc}" >/dev/null 2>&1; then
	echo "gan: CUDA build"
	make -s gpu/kernels.fatbin
	CGO_ENABLED=1 "$GO" build -tags gancuda -trimpath -ldflags='-s -w' -o "$out/gan" ./cmd/gan
	gzip -9 "$out/gan"
else
	echo "gan: no nvcc here (make cuda-toolchain installs it); packing a CPU-only build" >&2
	CGO_ENABLED=0 "$GO" build -trimpath -ldflags='-s -w' -o "$out/gan" ./cmd/gan
	gzip -9 "$out/gan"
fi

CGO_ENABLED=0 "$GO" test -c -trimpath -ldflags='-s -w' -o "$out/bench.test" ./bench/
gzip -9 "$out/bench.test"

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	commit="$commit+dirty"
fi
echo "$commit" >"$out/COMMIT"

size=$(du -sb "$out" | cut -f1)
echo "dist/bench: $((size / 1024 / 1024)) MiB ($commit)"
ls -l "$out"
# The working tree (about 12 MiB) travels too; a device run carries 64 MiB.
if [ "$size" -gt $((48 * 1024 * 1024)) ]; then
	echo "dist/bench is over 48 MiB: it would not travel with the working tree" >&2
	exit 1
fi

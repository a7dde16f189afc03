#!/usr/bin/env bash
# gpu-run.sh: checks the CUDA backend on a GPU machine that has the NVIDIA
# driver but no Go toolchain. Build the binaries first, on any Linux machine
# with Go and nvcc: `make gpu-dist` (they land in dist/). Then, from the
# repository root on the GPU machine:
#
#   scripts/gpu-run.sh                  # every stage, logs to the terminal
#   OUT=/some/dir scripts/gpu-run.sh    # and a copy of each log in $OUT/
#   scripts/gpu-run.sh tests train      # only some stages
#
# Stages, in order:
#   info       nvidia-smi, the C library, where libcuda.so.1 lives
#   tests      the parity tests: every op against the CPU backend, and 20
#              training steps of the seed GAN on both (-test.v)
#   memcheck   the tests (-test.short) under compute-sanitizer --tool memcheck
#   racecheck  the shared-memory kernels' tests under --tool racecheck
#   bench      the benchmarks (GFLOP/s of the products, ms per training step)
#   train      ./dist/gan train --device cuda --steps $STEPS (default 200)
#   pixelcnn   (only when named) PixelCNN at pytorch-generative's size (h 128,
#              15 residual blocks) for $PIXELCNN_MINUTES (default 9) minutes of
#              training, the exact test NLL of the 10,000 binarised test images
#              every 60 s (curve.csv), then gan eval of the checkpoint
#   vae        (only when named) the likelihood run of issue 12: $VAE_MODEL
#              (default vae) with --iw $VAE_IW (default 1) on dynamically
#              binarised MNIST for $VAE_EPOCHS epochs (default 1000): the first
#              3/10 at Adam 1e-3, the next 3/10 at 3e-4, the rest at 1e-4
#              (resumed with --lr), then gan eval's −ELBO and k = 5000
#              importance-weighted −log p(x) on the 10,000 test images
#   dcgan      (only when named) DCGAN's 25 epochs on MNIST at --size
#              $DCGAN_SIZE (default 32: the digits padded, the deeper networks),
#              an evaluation every 5 epochs (metrics.csv), then gan eval of the
#              checkpoint: the FID in classifier features of the issue's target
# Every requested stage runs even when an earlier one fails; the exit
# status is non-zero when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-}
STEPS=${STEPS:-200}
PIXELCNN_MINUTES=${PIXELCNN_MINUTES:-9}
DCGAN_SIZE=${DCGAN_SIZE:-32}
VAE_MODEL=${VAE_MODEL:-vae}
VAE_IW=${VAE_IW:-1}
VAE_EPOCHS=${VAE_EPOCHS:-1000}
BENCHTIME=${BENCHTIME:-1s}
if [ -n "$OUT" ]; then
	mkdir -p "$OUT"
fi
stages=("$@")
if [ ${#stages[@]} -eq 0 ]; then
	stages=(info tests memcheck racecheck bench train)
fi

failed=()

# stage NAME COMMAND...: runs COMMAND with its output on the terminal and in
# $OUT/NAME.txt, and records a failure.
stage() {
	local name=$1
	shift
	echo "==== $name: $*"
	local rc
	if [ -n "$OUT" ]; then
		"$@" 2>&1 | tee "$OUT/$name.txt"
		rc=${PIPESTATUS[0]}
	else
		"$@" 2>&1
		rc=$?
	fi
	echo "==== $name: exit status $rc"
	if [ "$rc" -ne 0 ]; then
		failed+=("$name")
	fi
	return 0
}

environment() {
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $(uname -srm)"
	echo "C library: $(ldd --version 2>&1 | head -n 1)"
	echo "libcuda:"
	ldconfig -p | grep -E 'libcuda\.so' || echo "  (libcuda.so not in the ldconfig cache)"
	echo "binaries:"
	ls -l dist/
	echo "newest glibc symbol versions the cuda gan binary needs:"
	objdump -T dist/gan 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -n 3 || echo "  (objdump not available)"
}

train() {
	local dir
	dir=$(mktemp -d)
	./dist/gan train --device cuda --steps "$STEPS" --out "$dir/run"
	local rc=$?
	if [ -n "$OUT" ]; then
		for f in metrics.csv loss.png; do
			[ -f "$dir/run/$f" ] && cp "$dir/run/$f" "$OUT/train-$f"
		done
	fi
	rm -rf "$dir"
	return $rc
}

pixelcnn() {
	local dir
	dir=${OUT:-$(mktemp -d)}/pixelcnn
	./dist/gan nll-curve --model pixelcnn --device cuda --hidden 128 --blocks 15 --batch 64 --lr 1e-3 \
		--minutes "$PIXELCNN_MINUTES" --every 60 --eval-n 10000 --out "$dir" &&
		./dist/gan eval --device cuda --checkpoint "$dir/checkpoint.safetensors"
}

vae() {
	local dir e1 e2 common
	dir=${OUT:-$(mktemp -d)}/$VAE_MODEL-iw$VAE_IW
	e1=$((VAE_EPOCHS * 3 / 10)) e2=$((VAE_EPOCHS * 6 / 10))
	common=(--model "$VAE_MODEL" --iw "$VAE_IW" --binarize dynamic --device cuda --out "$dir")
	./dist/gan train "${common[@]}" --epochs "$e1" &&
		./dist/gan train "${common[@]}" --resume "$dir/checkpoint.safetensors" --epochs "$e2" --lr 3e-4 &&
		./dist/gan train "${common[@]}" --resume "$dir/checkpoint.safetensors" --epochs "$VAE_EPOCHS" --lr 1e-4 &&
		./dist/gan eval --device cuda --checkpoint "$dir/checkpoint.safetensors" --iw-eval 5000
}

dcgan() {
	local dir
	dir=${OUT:-$(mktemp -d)}/dcgan$DCGAN_SIZE
	./dist/gan train --model dcgan --size "$DCGAN_SIZE" --device cuda --epochs 25 --eval-every 5 --out "$dir" &&
		./dist/gan eval --device cuda --checkpoint "$dir/checkpoint.safetensors"
}

tests=(dist/*.test)
if [ ! -x dist/gan ] || [ ! -e "${tests[0]}" ]; then
	echo "dist/gan or dist/*.test missing: run \`make gpu-dist\` on a machine with Go and nvcc first" >&2
	exit 2
fi
sanitizer=$(command -v compute-sanitizer || ls -1 /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | tail -n 1 || true)

for s in "${stages[@]}"; do
	case $s in
	info)
		stage nvidia-smi nvidia-smi
		stage environment environment
		;;
	tests)
		for t in "${tests[@]}"; do
			stage "$(basename "$t" .test)-tests" "$t" -test.v -test.count=1 -test.timeout=15m
		done
		;;
	memcheck | racecheck)
		if [ -z "$sanitizer" ]; then
			echo "compute-sanitizer not found (looked on PATH and in /usr/local/cuda*/bin): $s skipped"
			failed+=("$s-no-sanitizer")
			continue
		fi
		for t in "${tests[@]}"; do
			if [ "$s" = memcheck ]; then
				# The OOM test fills the device on purpose: not under the sanitizer.
				stage "$(basename "$t" .test)-memcheck" "$sanitizer" --tool memcheck --error-exitcode 86 \
					"$t" -test.short -test.count=1 -test.timeout=30m -test.skip 'TestOutOfMemory'
			else
				# racecheck watches shared memory: the kernels that use it (SGEMM
				# tiles, column sums, row sums of squares, layer norm's block
				# reductions, warp shuffles) and the seed GAN's step, which runs
				# most of them.
				stage "$(basename "$t" .test)-racecheck" "$sanitizer" --tool racecheck --error-exitcode 86 \
					"$t" -test.short -test.count=1 -test.timeout=30m \
					-test.run 'TestMatMul|TestColSum|TestRowSumSq|TestLayerNorm|TestSigmoidBCE|TestSoftmax|TestSeedGAN'
			fi
		done
		;;
	bench)
		stage bench dist/gpu.test -test.run '^$' -test.bench . -test.benchtime "$BENCHTIME" -test.timeout 30m
		;;
	train)
		stage train train
		;;
	pixelcnn)
		stage pixelcnn pixelcnn
		;;
	vae)
		stage vae vae
		;;
	dcgan)
		stage dcgan dcgan
		;;
	*)
		echo "unknown stage $s (want info, tests, memcheck, racecheck, bench, train, pixelcnn, vae or dcgan)" >&2
		failed+=("$s")
		;;
	esac
done

if [ ${#failed[@]} -ne 0 ]; then
	echo "FAILED: ${failed[*]}"
	exit 1
fi
echo "all stages passed"

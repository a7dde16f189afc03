#!/usr/bin/env bash
# scripts/chargpt-valloss.sh: char-gpt's validation loss against PyTorch's
# (bench/pytorch/bench_chargpt.py, nanoGPT's model) after the same number of
# training steps of the same configuration (char-gpt's defaults: 4 layers,
# 4 heads, width 128, block 64, batch 12, Adam 1e-3, betas (0.9, 0.99)) on
# the default corpus (Debian's fortunes), for several seeds: one seed's
# figure moves by a few hundredths with the batches drawn, so the
# comparison is of the means.
#
# Both estimate the validation loss on EVAL_ITERS random batches of 12 × 64
# characters of the validation split (ours `gan eval --eval-iters`, fixed
# batches; PyTorch's nanoGPT's estimate_loss, fresh random batches).
#
# Usage: scripts/chargpt-valloss.sh                 (seeds 1 2 3, 300 steps)
#        SEEDS="1 2 3 4 5" STEPS=2000 scripts/chargpt-valloss.sh
# Environment: SEEDS, STEPS, EVAL_ITERS (200), PYTHON (/usr/bin/python3),
# OUT (run directories, default $TMPDIR/gan-chargpt-valloss), GAN (a gan
# binary instead of building one), THREADS (PyTorch's, default nproc).
# PyTorch runs on Debian's MKL (libmkl-rt, as TORCH_BLAS=mkl of
# scripts/gpu-bench.sh) where it is installed: only its speed depends on it.
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-"1 2 3"}
STEPS=${STEPS:-300}
EVAL_ITERS=${EVAL_ITERS:-200}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-${TMPDIR:-/tmp}/gan-chargpt-valloss}
THREADS=${THREADS:-$(nproc)}
mkdir -p "$OUT"
torchenv=(env -u OPENBLAS_CORETYPE "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}")
mkl=/usr/lib/x86_64-linux-gnu/libmkl_rt.so
if [ -f "$mkl" ]; then
	mkdir -p "$OUT/blas"
	ln -sf "$mkl" "$OUT/blas/libblas.so.3"
	torchenv+=(MKL_THREADING_LAYER=GNU "LD_LIBRARY_PATH=$OUT/blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
fi
if [ -z "${GAN:-}" ]; then
	GAN="$OUT/gan"
	CGO_ENABLED=0 go build -trimpath -o "$GAN" ./cmd/gan
fi

echo "| seed | gan char-gpt | PyTorch (nanoGPT's model) |"
echo "| --- | ---: | ---: |"
ours=() theirs=()
for s in $SEEDS; do
	dir="$OUT/s$s-$STEPS"
	rm -rf "$dir"
	"$GAN" train --model char-gpt --steps "$STEPS" --seed "$s" --eval-iters 1 --out "$dir" >"$dir.log" 2>&1
	o=$("$GAN" eval --checkpoint "$dir/checkpoint.safetensors" --eval-iters "$EVAL_ITERS" 2>&1 |
		sed -n 's/.*validation loss \([0-9.]*\) nats.*/\1/p')
	p=$("${torchenv[@]}" "$PYTHON" bench/pytorch/bench_chargpt.py --steps "$STEPS" --seed "$s" --eval-iters "$EVAL_ITERS" \
		--threads "$THREADS" --json "$dir.torch.json" 2>&1 | sed -n 's/.*validation loss [0-9.]* -> \([0-9.]*\) nats.*/\1/p')
	[ -n "$o" ] && [ -n "$p" ] || { echo "chargpt-valloss: seed $s: no figure (see $dir.log)" >&2; exit 1; }
	echo "| $s | $o | $p |"
	ours+=("$o") theirs+=("$p")
done
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.4f", s / NR }'; }
echo "| mean | $(mean "${ours[@]}") | $(mean "${theirs[@]}") |"
echo
echo "$STEPS steps, validation loss in nats per character on $EVAL_ITERS batches of 12 × 64; $(date -u +%F), commit $(git rev-parse --short HEAD)."

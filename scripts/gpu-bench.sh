#!/usr/bin/env bash
# Runs every benchmark side by side on the GPU machine and writes
# bench/results/<date>-<device>.md (with the plot <date>-<device>.png and the
# raw results beside it): our CPU and CUDA backends (gan bench), PyTorch on
# the GPU (eager, CUDA graphs, torch.compile; cuBLAS FP32 products) and on
# the CPU with our thread count, and the Go benchmarks (ours vs gonum and
# Gorgonia), all from one run, with the ratios and the commit.
#
# It needs no Go toolchain: build the binaries here first,
#   make bench-dist          (scripts/build-bench-dist.sh)
# then, on the GPU machine, from the repository root (dist/bench carried):
#   scripts/gpu-bench.sh                 # stages gan torch go report
#   scripts/gpu-bench.sh profile         # Nsight Compute over batch-64 steps
#   scripts/gpu-bench.sh gan report      # any subset, in this order
# When $OUT is set, every file written is also copied there (results come
# back from the device machine only through $OUT); the report stage can also
# be run anywhere later on files fetched from there:
#   gan bench-report --gan X.gan.json --torch X.torch-cuda.json,X.torch-cpu.json \
#     --gobench X.gobench.txt --out X.md --plot X.png
#
# Environment: BENCH_DIST (dist/bench), RESULTS (bench/results), SLUG (the
# <device> part of the names; default from the GPU's name, "cpu-only"
# without one), NOTE (markdown added to the page: what else ran on the
# machine, say), QUICK=1 (a smoke test: tiny subsets), PYTHON (python3), and
# the time limits of the stages in seconds: T_GAN (420), T_TORCH_GPU (360),
# T_TORCH_CPU (240), T_TORCH_TEXT (180, the char-gpt peer), T_GO (300);
# TEXT_STEPS (300) is the char-gpt peer's training steps.
# The CPU peer: TORCH_BLAS=mkl|openblas|reference picks the libblas.so.3 that
# PyTorch loads for this run only (a directory on LD_LIBRARY_PATH with the
# library as libblas.so.3; Debian's libmkl-rt with MKL_THREADING_LAYER=GNU
# beside torch's OpenMP; OpenBLAS with its core type detected, i.e.
# OPENBLAS_CORETYPE unset); default: the system's libblas.so.3 alternative.
# OMP_WAIT_POLICY is PASSIVE for PyTorch unless set. The run's notes name the
# library and its version. TORCH_WHAT (default all groups: matmul,
# elementwise, step, dcgan, text, pixelcnn) and TORCH_BATCHES
# narrow PyTorch's CPU run; GAN_WHAT and GAN_BATCHES ours. PEAK_GFLOPS (and
# PEAK_SOURCE) give the CPU's fp32 peak for the DCGAN conv products' share
# (default: the best square product of the run). DCGAN_SIZE (28) is the image
# size of the DCGAN group's network on both sides (32: dcgan --size 32).
#
# Without a GPU (nvidia-smi absent) the same script measures the CPU side
# alone: the cuda rows say why they are missing.
set -uo pipefail
cd "$(dirname "$0")/.."

dist=${BENCH_DIST:-dist/bench}
results=${RESULTS:-bench/results}
python=${PYTHON:-python3}
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(gan torch go report)

die() { echo "gpu-bench: $*" >&2; exit 1; }
has_stage() { local s; for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
for s in "${stages[@]}"; do
	case $s in gan | torch | go | report | profile) ;; *) die "unknown stage $s (stages: gan torch go report profile)" ;; esac
done

# ---- binaries
bin=$(mktemp -d /tmp/gan-bench.XXXXXX)
for f in gan bench.test; do
	[ -f "$dist/$f.gz" ] || die "$dist/$f.gz is missing: run scripts/build-bench-dist.sh and carry $dist"
	gunzip -c "$dist/$f.gz" >"$bin/$f" && chmod +x "$bin/$f" || die "unpacking $f"
done
gan=$bin/gan
commit=$(cat "$dist/COMMIT" 2>/dev/null || echo unknown)

# ---- names
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
slug=${SLUG:-$(echo "${gpu_name:-cpu-only}" | tr 'A-Z' 'a-z' | sed -E 's/^nvidia //; s/[^a-z0-9]+/-/g; s/^-|-$//g')}
date=$(date -u +%Y-%m-%d)
mkdir -p "$results"
stem=$results/$date-$slug
log=$stem.log
: >"$log"
echo "gpu-bench: ${gpu_name:-no GPU found}, commit $commit, stages ${stages[*]}, results $stem.*" | tee -a "$log"

copy_out() {
	[ -n "${OUT:-}" ] || return 0
	local f
	for f in "$@"; do [ -f "$f" ] && cp "$f" "$OUT/"; done
}
trap 'copy_out "$log"' EXIT

quick=() cpufull=() torchcpu=()
if [ "${CPU_FULL:-0}" = 1 ]; then
	cpufull=(--full)
	torchcpu=(--batches 64,256,1024,4096 --squares 1024,4096)
fi
gobench=(-test.benchtime 0.2s -test.count 3)
if [ "${QUICK:-0}" = 1 ]; then
	quick=(--quick) cpufull=() torchcpu=()
	gobench=(-test.benchtime 10ms -test.count 1)
fi

# run NAME LIMIT CMD...: runs a stage's command with a time limit, logging.
run() {
	local name=$1 limit=$2
	shift 2
	echo "== $name: $*" | tee -a "$log"
	local start=$SECONDS
	timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
	local rc=${PIPESTATUS[0]}
	echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$log"
	return "$rc"
}

gpu_line=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -n 1)
cpu_line="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs"
torch_line=$("$python" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1 | tail -n 1)
printf 'GPU: %s\nCPU: %s\n%s\n' "${gpu_line:-none}" "$cpu_line" "$torch_line" | tee -a "$log"

ganextra=()
[ -n "${GAN_WHAT:-}" ] && ganextra+=(--what "$GAN_WHAT")
[ -n "${GAN_BATCHES:-}" ] && ganextra+=(--batches "$GAN_BATCHES")
[ -n "${PEAK_GFLOPS:-}" ] && ganextra+=(--peak-gflops "$PEAK_GFLOPS" --peak-source "${PEAK_SOURCE:-given with PEAK_GFLOPS}")
dcgansize=()
[ -n "${DCGAN_SIZE:-}" ] && dcgansize=(--dcgan-size "$DCGAN_SIZE") && ganextra+=("${dcgansize[@]}")
[ -n "${TORCH_WHAT:-}" ] && torchcpu+=(--what "$TORCH_WHAT")
[ -n "${TORCH_BATCHES:-}" ] && torchcpu+=(--batches "$TORCH_BATCHES")

# The CPU peer's BLAS (see the header).
torchenv=(env -u OPENBLAS_CORETYPE "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}")
case ${TORCH_BLAS:-} in
"") ;;
mkl | openblas | reference)
	blasdir=$(mktemp -d /tmp/gan-blas.XXXXXX)
	case $TORCH_BLAS in
	mkl) lib=/usr/lib/x86_64-linux-gnu/libmkl_rt.so torchenv+=(MKL_THREADING_LAYER=GNU) ;;
	openblas) lib=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ;;
	reference) lib=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3 ;;
	esac
	[ -f "$lib" ] || die "TORCH_BLAS=$TORCH_BLAS: $lib is missing (install the package that provides it)"
	ln -s "$lib" "$blasdir/libblas.so.3"
	torchenv+=("LD_LIBRARY_PATH=$blasdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
	;;
*) die "TORCH_BLAS=$TORCH_BLAS: choose mkl, openblas or reference" ;;
esac

if has_stage gan; then
	run "gan bench" "${T_GAN:-420}" "$gan" bench --device cpu,cuda "${quick[@]}" "${cpufull[@]}" "${ganextra[@]}" --commit "$commit" \
		--json "$stem.gan.json" --plot "$bin/gan-steps.png" || echo "gpu-bench: gan bench failed (see above)" | tee -a "$log"
	copy_out "$stem.gan.json"
fi

if has_stage torch; then
	threads=$("$python" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(next((x.get("threads", 0) for x in r["runs"] if x["device"] == "cpu"), 0))' "$stem.gan.json" 2>/dev/null)
	[ "${threads:-0}" -gt 0 ] 2>/dev/null || threads=$(nproc)
	if [ -n "$gpu_name" ]; then
		run "pytorch cuda" "${T_TORCH_GPU:-360}" env PYTHONUNBUFFERED=1 "$python" bench/pytorch/bench_torch.py --device cuda \
			"${quick[@]}" "${dcgansize[@]}" --commit "$commit" --json "$stem.torch-cuda.json" || echo "gpu-bench: PyTorch on cuda failed" | tee -a "$log"
	else
		echo "gpu-bench: no GPU: PyTorch runs on the CPU only" | tee -a "$log"
	fi
	run "pytorch cpu ($threads threads${TORCH_BLAS:+, $TORCH_BLAS})" "${T_TORCH_CPU:-240}" "${torchenv[@]}" PYTHONUNBUFFERED=1 "$python" bench/pytorch/bench_torch.py --device cpu \
		--threads "$threads" "${quick[@]}" "${torchcpu[@]}" "${dcgansize[@]}" --commit "$commit" --json "$stem.torch-cpu.json" || echo "gpu-bench: PyTorch on cpu failed" | tee -a "$log"
	copy_out "$stem.torch-cuda.json" "$stem.torch-cpu.json"
	# The char-gpt peer (gan bench --what text times ours): steps/s (a bench
	# report, which the page sets beside ours) and the validation loss after
	# TEXT_STEPS (300) steps on the fortunes corpus.
	# Both peers run unless TORCH_WHAT leaves out their group (text, pixelcnn).
	torch_wants() { [ -z "${TORCH_WHAT:-}" ] || [[ ",$TORCH_WHAT," == *",$1,"* ]]; }
	if torch_wants text; then
		run "pytorch char-gpt cpu ($threads threads${TORCH_BLAS:+, $TORCH_BLAS})" "${T_TORCH_TEXT:-180}" "${torchenv[@]}" PYTHONUNBUFFERED=1 "$python" bench/pytorch/bench_chargpt.py \
			--threads "$threads" --steps "${TEXT_STEPS:-300}" --commit "$commit" --json "$stem.torch-chargpt.json" || echo "gpu-bench: PyTorch char-gpt failed (is the fortunes package installed?)" | tee -a "$log"
		copy_out "$stem.torch-chargpt.json"
	fi
	# The PixelCNN peer (gan bench --what pixelcnn times ours): the batch-64
	# training step of the same network on the CPU.
	if torch_wants pixelcnn; then
		run "pytorch pixelcnn cpu ($threads threads${TORCH_BLAS:+, $TORCH_BLAS})" "${T_TORCH_PIXELCNN:-120}" "${torchenv[@]}" PYTHONUNBUFFERED=1 "$python" bench/pytorch/bench_pixelcnn.py \
			--threads "$threads" --commit "$commit" --json "$stem.torch-pixelcnn-cpu.json" || echo "gpu-bench: PyTorch PixelCNN failed" | tee -a "$log"
		copy_out "$stem.torch-pixelcnn-cpu.json"
	fi
fi

if has_stage go; then
	run "go benchmarks" "${T_GO:-300}" "$bin/bench.test" -test.run '^$' -test.bench . "${gobench[@]}" | tee "$stem.gobench.txt"
	copy_out "$stem.gobench.txt"
fi

if has_stage report; then
	join() { local IFS=,; echo "$*"; }
	gans=() torches=() gobs=()
	[ -f "$stem.gan.json" ] && gans+=("$stem.gan.json")
	for f in "$stem.torch-cuda.json" "$stem.torch-cpu.json" "$stem.torch-pixelcnn-cpu.json" "$stem.torch-chargpt.json"; do [ -f "$f" ] && torches+=("$f"); done
	[ -f "$stem.gobench.txt" ] && gobs+=("$stem.gobench.txt")
	{
		echo "Made with \`scripts/build-bench-dist.sh\` (with CUDA where nvcc is present) on the build machine, then"
		envs=""
		for v in QUICK CPU_FULL OMP_WAIT_POLICY PYTHON SLUG TORCH_BLAS GAN_WHAT GAN_BATCHES TORCH_WHAT TORCH_BATCHES PEAK_GFLOPS DCGAN_SIZE; do [ -n "${!v:-}" ] && envs+="$v=${!v} "; done
		echo "\`${envs}scripts/gpu-bench.sh ${stages[*]}\` on this one: GPU ${gpu_line:-none}; CPU $cpu_line; $torch_line."
		raw=()
		for ext in gan.json torch-cuda.json torch-cpu.json gobench.txt log; do [ -f "$stem.$ext" ] && raw+=("$ext"); done
		echo "Raw results beside this page: \`$(basename "$stem")\`.{$(IFS=,; echo "${raw[*]}" | sed 's/,/, /g')}."
		[ -n "${NOTE:-}" ] && printf '\n%s\n' "$NOTE"
	} >"$stem.preamble.md"
	run "report" 60 "$gan" bench-report --gan "$(join "${gans[@]}")" --torch "$(join "${torches[@]}")" \
		--gobench "$(join "${gobs[@]}")" --commit "$commit" --title "Benchmarks: ${gpu_name:-CPU only, $cpu_line}, $date" \
		--preamble "$stem.preamble.md" --out "$stem.md" --plot "$stem.png"
	rm -f "$stem.preamble.md"
	copy_out "$stem.md" "$stem.png"
fi

if has_stage profile; then
	# Nsight Compute over a window of kernel launches in the steady state of
	# batch-64 training steps: per kernel, its duration and its compute and
	# memory throughput (percent of peak), i.e. where a step's time goes.
	run "ncu" 400 ncu --section SpeedOfLight --print-summary per-kernel --launch-skip 500 --launch-count 150 \
		"$gan" bench --device cuda --what step --batches 64 --reps 20 --min-time 1ms | tee "$stem.ncu.txt"
	copy_out "$stem.ncu.txt"
fi
echo "gpu-bench: done; results under $stem.*" | tee -a "$log"

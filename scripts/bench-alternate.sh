#!/usr/bin/env bash
# Times a training step of ours and of its PyTorch peer in alternating
# rounds on the CPU and writes bench/results/<date>-<slug>-alternate-<group>.md
# with every round's figures and the ratio of each round's pair.
#
# Why: on a shared host the speed of the machine drifts by tens of per cent
# from one minute to the next, so two figures taken minutes apart (the
# stages of scripts/gpu-bench.sh) give a ratio that moves with the host.
# Here each round times ours (gan bench --what GROUP) and then PyTorch
# (bench/pytorch) back to back, about a second of steps each (the
# processes' start-up between them is not timed), ROUNDS times, and the
# page gives the median over rounds of the per-round ratio beside the
# medians and the fastest rounds of each side.
#
#   scripts/bench-alternate.sh text          # char-gpt (issue 14's target)
#   scripts/bench-alternate.sh pixelcnn      # PixelCNN, batch 64
#   TORCH_BLAS=mkl scripts/bench-alternate.sh vae   # MLP VAE, batch 128
#
# Environment: ROUNDS (21), GAN (./gan, built from the working tree when
# absent), PYTHON (/usr/bin/python3: Debian's PyTorch), RESULTS
# (bench/results), SLUG (cpu-<cores>core), THREADS (the CPU count),
# OMP_WAIT_POLICY (PASSIVE, the faster for PyTorch here), TORCH_BLAS (the
# libblas.so.3 PyTorch loads: mkl for Debian's libmkl-rt with
# MKL_THREADING_LAYER=GNU beside torch's OpenMP, openblas, or system, the
# default: the system's alternative). PyTorch runs with OPENBLAS_CORETYPE
# unset, so OpenBLAS detects its core type. The page counts the rounds at
# the issue's target ratio or above: 1.5× (text, pixelcnn), 3× (vae).
set -euo pipefail
cd "$(dirname "$0")/.."

group=${1:-text}
rounds=${ROUNDS:-21}
python=${PYTHON:-/usr/bin/python3}
results=${RESULTS:-bench/results}
threads=${THREADS:-$(nproc)}
slug=${SLUG:-cpu-${threads}core}
gan=${GAN:-./gan}
target=1.5
case $group in
text) peer=(bench/pytorch/bench_chargpt.py --steps 12 --eval-iters 1 --reps 1) ;;
pixelcnn) peer=(bench/pytorch/bench_pixelcnn.py --reps 1 --min-time 1) ;;
vae) peer=(bench/pytorch/bench_vae.py --reps 1 --min-time 1) target=3 ;;
*) echo "bench-alternate: unknown group $group (text, pixelcnn, vae)" >&2; exit 2 ;;
esac
torchenv=(env -u OPENBLAS_CORETYPE OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" PYTHONUNBUFFERED=1)
case ${TORCH_BLAS:-system} in
system) ;;
mkl | openblas)
	lib=/usr/lib/x86_64-linux-gnu/libmkl_rt.so
	if [ "$TORCH_BLAS" = openblas ]; then
		lib=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
	else
		torchenv+=(MKL_THREADING_LAYER=GNU)
	fi
	[ -f "$lib" ] || { echo "bench-alternate: TORCH_BLAS=$TORCH_BLAS: $lib is not installed" >&2; exit 2; }
	blasdir=$(mktemp -d /tmp/bench-alternate-blas.XXXXXX)
	ln -s "$lib" "$blasdir/libblas.so.3"
	torchenv+=("LD_LIBRARY_PATH=$blasdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
	;;
*) echo "bench-alternate: TORCH_BLAS=$TORCH_BLAS: choose mkl, openblas or system" >&2; exit 2 ;;
esac
if [ ! -x "$gan" ]; then
	go build -o "$gan" ./cmd/gan
fi
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' || echo "+dirty")
tmp=$(mktemp -d /tmp/bench-alternate.XXXXXX)
for r in $(seq "$rounds"); do
	echo "bench-alternate: round $r of $rounds: gan" >&2
	"$gan" bench --device cpu --what "$group" --reps 1 --commit "$commit" --json "$tmp/gan-$r.json" >"$tmp/gan-$r.log" 2>&1
	echo "bench-alternate: round $r of $rounds: pytorch" >&2
	"${torchenv[@]}" "$python" "${peer[@]}" --threads "$threads" --commit "$commit" --json "$tmp/torch-$r.json" >"$tmp/torch-$r.log" 2>&1
done
mkdir -p "$results"
page="$results/$(date -u +%Y-%m-%d)-$slug-alternate-$group.md"
"$python" - "$tmp" "$rounds" "$group" "$commit" "$page" "$target" <<'EOF'
import json, statistics, sys, datetime, platform
tmp, rounds, group, commit, page = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
target = float(sys.argv[6])

def step(path):
    """The first training-step row of a bench report: label, median seconds, notes."""
    d = json.load(open(path))
    for run in d["runs"]:
        for res in run["results"]:
            if res["group"] in ("text-step", "pixelcnn-step", "vae-step"):
                return res["label"], res["seconds"]["median"], run.get("notes", []), d.get("host", {})
    raise SystemExit(f"bench-alternate: no training step in {path}")

rows, ratios = [], []
for r in range(1, rounds + 1):
    label, ours, _, host = step(f"{tmp}/gan-{r}.json")
    plabel, theirs, notes, phost = step(f"{tmp}/torch-{r}.json")
    ratios.append(theirs / ours)
    rows.append(f"| {r} | {ours * 1e3:.1f} | {1 / ours:.2f} | {theirs * 1e3:.1f} | {1 / theirs:.2f} | {theirs / ours:.2f}× |")
ours_all = [step(f"{tmp}/gan-{r}.json")[1] for r in range(1, rounds + 1)]
theirs_all = [step(f"{tmp}/torch-{r}.json")[1] for r in range(1, rounds + 1)]
with open(page, "w") as f:
    f.write(f"# {label}: gan against PyTorch in alternating rounds ({datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC)\n\n")
    f.write(f"Commit {commit}; host: {host.get('cpu', '?')}, {host.get('cores', '?')} CPUs, {host.get('runtime', '')}; "
            f"PyTorch: {phost.get('runtime', '?')}, {notes[0] if notes else ''}. Made with "
            f"`scripts/bench-alternate.sh {group}` (ROUNDS={rounds}): each round times our step "
            "(`gan bench --device cpu --what " + group + " --reps 1`: the mean of consecutive steps over at least a second) "
            "and then PyTorch's (bench/pytorch, eager: the mean of about a second of consecutive steps after a warm-up step), "
            "so that each ratio compares two figures taken seconds apart on a host whose speed drifts from minute to minute.\n\n")
    f.write("| round | gan ms/step | gan steps/s | PyTorch ms/step | PyTorch steps/s | gan speed ÷ PyTorch speed |\n|---|---|---|---|---|---|\n")
    f.write("\n".join(rows) + "\n\n")
    f.write(f"**Median over rounds of the per-round ratio: {statistics.median(ratios):.2f}×** "
            f"(lowest {min(ratios):.2f}×, highest {max(ratios):.2f}×). Medians over rounds of each side: "
            f"gan {statistics.median(ours_all) * 1e3:.1f} ms ({1 / statistics.median(ours_all):.2f} steps/s), "
            f"PyTorch {statistics.median(theirs_all) * 1e3:.1f} ms ({1 / statistics.median(theirs_all):.2f} steps/s). "
            f"Fastest rounds (the least disturbed by other work on the host): gan {min(ours_all) * 1e3:.1f} ms, "
            f"PyTorch {min(theirs_all) * 1e3:.1f} ms, a ratio of {min(theirs_all) / min(ours_all):.2f}×; "
            f"{sum(r >= target for r in ratios)} of {rounds} rounds at {target:g}× or more.\n")
print(page)
EOF
cat "$page"

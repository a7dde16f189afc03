#!/usr/bin/env bash
# scripts/stability.sh: the stability study of issue 11. Trains the seed MLP
# architecture (G 100-256-512-1024-784) with the seed's BCE objective and with
# WGAN-GP (the MLP critic of PyTorch-GAN's wgan_gp, λ = 10, 5 critic steps per
# G step, Adam 2e-4 for G and 4e-4 for the critic, betas (0.5, 0.999): the
# seed model's defaults for --loss wgan-gp) for each seed, with the same training
# time per run, and writes a markdown table to docs/stability.md.
#
# Equal time: the machine may be shared with other work whose load changes
# from minute to minute, so the two runs of a seed train at the same time,
# side by side, each for MINUTES of wall-clock time: both see the same load.
# Each is stopped by SIGINT (gan train saves a checkpoint of the step reached
# and exits with status 130). The per-epoch evaluations fall inside the
# budget (the objective that makes more epochs pays for more of them); the
# final evaluation is outside it.
#
# For each run the table has: the steps (and G steps) taken, the epochs that
# makes, the 1-based epoch of the first evaluation (every epoch, --eval-n
# samples) at which all ten classes hold at least 2% of the samples, the
# fewest classes covered at any evaluation after the first epoch, the
# classes covered and the classifier FID of the final checkpoint (gan eval,
# FINAL_N samples), and the divergence watch's warnings (warnings.jsonl) by
# kind.
#
# Usage: scripts/stability.sh            (5 seeds, 2.5 minutes per run)
#        SEEDS="1 2" MINUTES=1 scripts/stability.sh
# Environment: SEEDS, MINUTES (training minutes per run), EVAL_N (samples per
# in-run evaluation, default 2000), FINAL_N (default 10000), OUT (run
# directories, default $TMPDIR/gan-stability), DOC (default docs/stability.md), GAN
# (a gan binary to use instead of building one from the working tree).
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-"1 2 3 4 5"}
MINUTES=${MINUTES:-2.5}
EVAL_N=${EVAL_N:-2000}
FINAL_N=${FINAL_N:-10000}
OUT=${OUT:-${TMPDIR:-/tmp}/gan-stability}
DOC=${DOC:-docs/stability.md}
BUDGET=$(awk -v m="$MINUTES" 'BEGIN { printf "%.0f", m * 60 }')

mkdir -p "$OUT"
if [ -z "${GAN:-}" ]; then
	GAN="$OUT/gan"
	CGO_ENABLED=0 go build -trimpath -o "$GAN" ./cmd/gan
fi

flags_of() { # the objective's flags
	case $1 in
	bce) echo "" ;;
	wgan-gp) echo "--loss wgan-gp" ;;
	esac
}

# colidx NAME FILE: the index of column NAME in the CSV header of FILE.
colidx() { head -1 "$2" | tr ',' '\n' | grep -nx "$1" | cut -d: -f1; }

# summarize LOSS SEED DIR: one table row.
summarize() {
	local loss=$1 seed=$2 dir=$3
	local csv="$dir/metrics.csv"
	local ce cc cs steps
	steps=$(tail -1 "$csv" | cut -d, -f1)
	ce=$(colidx epoch "$csv")
	cc=$(colidx classes_covered "$csv")
	cs=$(colidx seconds "$csv")
	local evals
	# epoch, classes covered of every evaluated row
	evals=$(awk -F, -v e="$ce" -v c="$cc" 'NR > 1 && $c != "" { print $e, $c }' "$csv")
	local first min epochs secs
	first=$(echo "$evals" | awk '$2 >= 10 { print $1; exit }')
	min=$(echo "$evals" | awk 'NR > 1 { if (m == "" || $2 < m) m = $2 } END { print (m == "" ? "–" : m) }')
	epochs=$(awk -F, -v s="$steps" 'END { printf "%.2f", s / 938 }' "$csv")
	secs=$(awk -F, -v c="$cs" 'END { printf "%.0f", $c }' "$csv")
	local fid covered
	fid=$(grep -m1 '"fid_classifier_features"' "$dir/eval.json" | sed -E 's/.*: ([0-9.eE+-]+),?/\1/')
	fid=$(awk -v f="$fid" 'BEGIN { printf "%.2f", f }')
	covered=$(grep -m1 '"classes_covered"' "$dir/eval.json" | sed -E 's/.*: ([0-9]+),?/\1/')
	local warns="0"
	if [ -s "$dir/warnings.jsonl" ]; then
		warns=$(sed -E 's/.*"kind":"([a-z_A-Z]+)".*/\1/' "$dir/warnings.jsonl" | sort | uniq -c |
			awk '{ n += $1; s = s (s == "" ? "" : ", ") $1 " " $2 } END { print n " (" s ")" }')
	fi
	local gsteps=$steps
	[ "$loss" = wgan-gp ] && gsteps=$(((steps + 4) / 5))
	printf '| %s | %s | %d (%d) | %s | %s | %s | %s | %s | %s | %s |\n' \
		"$seed" "$loss" "$steps" "$gsteps" "$epochs" "$secs" \
		"${first:-not within the budget}" "$min" "$covered" "$fid" "$warns"
}

# train LOSS SEED: one run of BUDGET seconds, stopped by SIGINT, then its
# final evaluation.
train() {
	local dir="$OUT/seed$2-$1" status=0
	rm -rf "$dir"
	mkdir -p "$dir"
	# shellcheck disable=SC2046
	timeout --signal=INT "$BUDGET" "$GAN" train --seed "$2" $(flags_of "$1") --eval-every 1 --eval-n "$EVAL_N" \
		--out "$dir" >"$dir.log" 2>&1 || status=$?
	if [ "$status" != 0 ] && [ "$status" != 130 ] && [ "$status" != 124 ]; then
		echo "run $dir failed (status $status): see $dir.log" >&2
		return 1
	fi
	"$GAN" eval --checkpoint "$dir/checkpoint.safetensors" --n "$FINAL_N" --json "$dir/eval.json" >/dev/null
}

rows=()
for seed in $SEEDS; do
	echo "seed $seed: bce and wgan-gp side by side for $BUDGET s" >&2
	train bce "$seed" &
	a=$!
	train wgan-gp "$seed" &
	b=$!
	wait "$a" || exit 1
	wait "$b" || exit 1
	for loss in bce wgan-gp; do
		rows+=("$(summarize "$loss" "$seed" "$OUT/seed$seed-$loss")")
		echo "${rows[-1]}" >&2
	done
done

{
	echo "# Stability: BCE against WGAN-GP on the seed MLP architecture"
	echo
	echo "Written by \`scripts/stability.sh\` (SEEDS=\"$SEEDS\" MINUTES=$MINUTES EVAL_N=$EVAL_N FINAL_N=$FINAL_N)"
	echo "on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo +dirty), CPU ($(nproc) cores)."
	echo
	echo "Each run trains the seed generator for $MINUTES minutes of wall-clock time on the CPU,"
	echo "the two runs of a seed side by side (so that both see the same load on a shared machine),"
	echo "per-epoch evaluations included."
	echo "bce is the seed's configuration (D with dropout, Adam 2e-4, betas (0.9, 0.999));"
	echo "wgan-gp is \`--loss wgan-gp\` (the MLP critic 784-512-256-1, λ = 10, 5 critic steps"
	echo "per G step, Adam 2e-4 for G and 4e-4 for the critic, betas (0.5, 0.999)). \"10 classes at epoch\" is the first"
	echo "per-epoch evaluation ($EVAL_N samples; the last one after the final partial epoch)"
	echo "at which every class holds at least 2% of the samples; \"min classes\" is the fewest"
	echo "classes covered at any evaluation after the first epoch; the final classes and FID are"
	echo "\`gan eval\` (the reference classifier and its features) on $FINAL_N samples of the final"
	echo "checkpoint; warnings are the divergence watch's (warnings.jsonl), by kind."
	echo
	echo "| seed | loss | steps (G steps) | epochs | seconds | 10 classes at epoch | min classes after epoch 1 | final classes | final FID | watch warnings |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	printf '%s\n' "${rows[@]}"
} >"$DOC"
echo "wrote $DOC" >&2

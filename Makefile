# gan: build, test and CUDA targets. See README.md.
GO      ?= go
GOFLAGS ?=

.PHONY: all gan test vet fuzz clean cuda-toolchain check-nvcc gpu gpu-dist vet-cuda test-cudaemu bench-cpu bench-dist

# The default target builds the CPU binary ./gan (no cgo, no CUDA needed).
all: gan

gan:
	CGO_ENABLED=0 $(GO) build -trimpath -o gan ./cmd/gan

# make test: the CPU-only test suite that CI runs (no GPU needed).
test:
	gofmt -l . | (! grep .) || (echo "gofmt: the files above are not formatted"; exit 1)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 14m ./...
	@# The portable matmul path, which CPUs without AVX2 run.
	$(GO) test -count=1 -tags purego ./cpu/sgemm/ ./cpu/

# make bench-cpu: the Go benchmarks that compare our CPU matmul and training
# step with gonum's and Gorgonia's, then `gan bench` on the CPU.
bench-cpu: gan
	$(GO) test -run '^$$' -bench . -benchmem ./bench/
	./gan bench --device cpu

# make bench-dist: what scripts/gpu-bench.sh runs on a GPU machine, in
# dist/bench/ (run `make gpu-dist` first for the CUDA binary).
bench-dist:
	scripts/build-bench-dist.sh

vet:
	$(GO) vet ./...

clean:
	rm -rf gan gan-cuda dist gpu/kernels.fatbin

# make cuda-toolchain: installs nvcc and the CUDA headers (Debian's
# nvidia-cuda-toolkit, CUDA 11.8, from the contrib and non-free components).
# It does nothing when nvcc is already on PATH.
APT_SOURCES ?= /etc/apt/sources.list.d/debian.sources
cuda-toolchain:
	@if command -v nvcc >/dev/null 2>&1; then \
		echo "nvcc already installed: $$(command -v nvcc)"; \
	else \
		set -e; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		if [ -f $(APT_SOURCES) ]; then \
			$$SUDO sed -i -E '/^Components:/{/ contrib( |$$)/!s/$$/ contrib/;/ non-free( |$$)/!s/$$/ non-free/}' $(APT_SOURCES); \
		fi; \
		$$SUDO apt-get update; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends nvidia-cuda-toolkit; \
		nvcc --version; \
	fi

# ---- CUDA backend (see gpu/README.md)
#
# make gpu: compiles kernels/*.cu with nvcc into one fatbin (PTX for
# compute_80, which the driver JIT-compiles for sm_80 and newer, plus a cubin
# for sm_90), which package gpu embeds, then builds ./gan with the gancuda
# tag (not plain `cuda`: Gorgonia, a dependency, uses that tag for its cuDNN
# bindings).
# Plain FP32: no --use_fast_math; the kernels round explicitly where the CPU
# backend must be matched bit for bit. (No -lineinfo: nvcc 11.8's ptxas
# crashes with it on this code for sm_90.)
NVCC      ?= nvcc
NVCCFLAGS ?= -std=c++17 -O3 \
	-gencode arch=compute_80,code=compute_80 -gencode arch=compute_90,code=sm_90
KERNEL_SRC := $(wildcard kernels/*.cu kernels/*.cuh)
# Packages with tests built with the gancuda tag (files whose //go:build
# line names gancuda without negating it).
CUDA_TEST_PKGS = $(sort $(dir $(shell grep -rlE '^//go:build (.*[^!a-z])?gancuda([^a-z]|$$)' --include='*_test.go' .)))

check-nvcc:
	@command -v $(NVCC) >/dev/null 2>&1 || { echo "nvcc not found: run \`make cuda-toolchain\` first"; exit 1; }

gpu/kernels.fatbin: $(KERNEL_SRC) | check-nvcc
	$(NVCC) $(NVCCFLAGS) -fatbin -o $@ kernels/all.cu

gpu: check-nvcc gpu/kernels.fatbin
	CGO_ENABLED=1 $(GO) build -tags gancuda -trimpath -o gan ./cmd/gan

# make vet-cuda: go vet with the gancuda tag on every package (needs the
# fatbin that package gpu embeds).
vet-cuda: gpu/kernels.fatbin
	CGO_ENABLED=1 $(GO) vet -tags gancuda ./...

# make test-cudaemu: the gpu package's parity tests with the kernels run on
# the CPU by the emulator in gpu/emu.cpp (needs g++, not nvcc or a GPU).
test-cudaemu:
	CGO_ENABLED=1 $(GO) test -count=1 -tags cudaemu ./gpu/

# make gpu-dist: everything a GPU machine without Go needs, in dist/: the
# gancuda gan binary and the gancuda test binaries, stripped; scripts/gpu-run.sh
# runs them there.
gpu-dist: check-nvcc gpu/kernels.fatbin
	mkdir -p dist
	CGO_ENABLED=1 $(GO) build -tags gancuda -trimpath -ldflags='-s -w' -o dist/gan ./cmd/gan
	@for d in $(CUDA_TEST_PKGS); do \
		name=$$(echo "$${d#./}" | sed 's:/$$::; s:/:_:g'); \
		echo "$(GO) test -c -tags gancuda -trimpath -ldflags='-s -w' -o dist/$$name.test $$d"; \
		CGO_ENABLED=1 $(GO) test -c -tags gancuda -trimpath -ldflags='-s -w' -o dist/$$name.test $$d || exit 1; \
	done
	@du -ch dist/gan dist/*.test | tail -n 1

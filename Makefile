# gan: build, test and CUDA targets. See README.md.
GO      ?= go
GOFLAGS ?=

.PHONY: all gan test vet fuzz clean cuda-toolchain gpu gpu-dist

# The default target builds the CPU binary ./gan (no cgo, no CUDA needed).
all: gan

gan:
	CGO_ENABLED=0 $(GO) build -trimpath -o gan ./cmd/gan

# make test: the CPU-only test suite that CI runs (no GPU needed).
test:
	gofmt -l . | (! grep .) || (echo "gofmt: the files above are not formatted"; exit 1)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 14m ./...

vet:
	$(GO) vet ./...

clean:
	rm -rf gan gan-cuda dist

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

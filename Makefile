# gan: build, test and CUDA targets. See README.md.
GO      ?= go
GOFLAGS ?=

.PHONY: all gan test vet fuzz clean

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

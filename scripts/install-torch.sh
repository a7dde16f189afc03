#!/bin/sh
# Installs Debian's python3-torch (PyTorch 1.13, CPU) for /usr/bin/python3:
# the peer of the PyTorch interop test (nn/models/seedgan TestPyTorchInterop,
# which loads our checkpoints into the seed's own modules) and of the
# PyTorch benchmark. Idempotent: does nothing when torch already imports.
# Fails when it cannot install: CI runs the interop test with
# GAN_REQUIRE_TORCH=1, where a missing torch is an error, not a skip.
set -eu

if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
	echo "install-torch: torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') already installed"
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends python3-torch >/dev/null 2>&1; then
	# The package lists may be missing or stale: refresh them once and retry.
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends python3-torch
fi
/usr/bin/python3 -c 'import torch; print("install-torch: torch", torch.__version__)'

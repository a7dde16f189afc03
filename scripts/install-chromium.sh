#!/bin/sh
# Installs Debian's chromium, the headless browser of the report test
# (cmd/gan TestReportInChromium renders gan report's page with it and fails
# on any console error). Idempotent: does nothing when /usr/bin/chromium is
# there. Never fails the caller: where it cannot install (no root, no apt,
# no network), it says so and exits 0, and the test then skips with a
# message.
set -u

if [ -x /usr/bin/chromium ]; then
	echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-chromium: no apt-get here; the headless-browser test will be skipped"
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO="sudo -n"
	else
		echo "install-chromium: not root and no password-less sudo; the headless-browser test will be skipped"
		exit 0
	fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null 2>&1; then
	# The package lists may be missing or stale: refresh them once and retry.
	if ! { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null 2>&1; }; then
		echo "install-chromium: apt-get could not install chromium; the headless-browser test will be skipped"
		exit 0
	fi
fi
if [ -x /usr/bin/chromium ]; then
	echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
else
	echo "install-chromium: chromium installed but /usr/bin/chromium is missing; the headless-browser test will be skipped"
fi
exit 0

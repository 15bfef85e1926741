#!/usr/bin/env bash
# tests/run.sh — the whole test suite on this machine kind (Debian 12, as
# root): prepares the machine with tests/setup.sh (cached), then runs every
# Go test, including the ones that boot a real Lima VM.
# Usage: tests/run.sh [--no-image]   (--no-image: skip the VM tests)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
setup_env=$(tests/setup.sh "$@")
eval "$setup_env"
export PIXI_LIMA_TEST_REQUIRE=1
export GOFLAGS=-mod=mod
go vet ./...
# A short, bounded fuzz of the settings parser, then everything.
go test -run '^$' -fuzz FuzzParse -fuzztime 20s ./env/settings
go test -count=1 -timeout 85m ./...

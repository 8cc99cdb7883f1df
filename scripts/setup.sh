#!/usr/bin/env bash
# Builds the kit (and the library the notebooks reference) with the chosen torch backend.
# Usage: scripts/setup.sh [cpu|cuda|none]   (default: the TorchBackend environment variable, else cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-${TorchBackend:-cpu}}"
case "$backend" in cpu|cuda|none) ;; *) echo "usage: $0 [cpu|cuda|none]" >&2; exit 2 ;; esac
dotnet build PathNotebooks.sln -c Release -p:TorchBackend="$backend"
echo "Built with TorchBackend=$backend. Notebooks reference lib/PathNotebooks/bin/Release/net10.0/PathNotebooks.dll."

#!/usr/bin/env bash
# Runs once when a dev container is created (both the CPU and the GPU one):
#  - Jupyter from Ubuntu 24.04's own packages (no pip), for `jupyter nbconvert --execute` and the notebook UI
#  - the .NET Interactive kernel (the version the notebooks are written for), registered with Jupyter
#  - the kit, built with the container's torch backend (TorchBackend from containerEnv; cpu when unset)
set -euo pipefail
cd "$(dirname "$0")/.."

sudo apt-get update
sudo apt-get install -y jupyter-notebook jupyter-nbconvert python3-nbclient

export PATH="$PATH:$HOME/.dotnet/tools"
if ! dotnet tool list -g | grep -qi '^microsoft\.dotnet-interactive '; then
  dotnet tool install -g Microsoft.dotnet-interactive --version 1.0.712001
fi
dotnet interactive jupyter install

bash scripts/setup.sh "${TorchBackend:-cpu}"

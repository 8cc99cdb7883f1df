#!/usr/bin/env bash
# Runs once when a dev container is created (both the CPU and the GPU one):
#  - Jupyter from Ubuntu 24.04's own packages (no pip), for the notebook UI and `jupyter nbconvert --execute`
#  - the kit, built with the container's torch backend (TorchBackend from containerEnv; cpu when unset), and the
#    .NET Interactive kernel (the version the notebooks are tested with) registered with Jupyter: scripts/jupyter-kernel.sh
# VS Code's Polyglot Notebooks extension brings its own copy of the same kernel.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo apt-get update
sudo apt-get install -y jupyter-notebook jupyter-nbconvert python3-nbclient

bash scripts/jupyter-kernel.sh

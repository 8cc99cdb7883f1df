#!/usr/bin/env bash
# Makes the course runnable in Jupyter Notebook / JupyterLab with the .NET Interactive C# kernel:
#  1. builds the kit (the notebooks reference lib/PathNotebooks/bin/Release/net10.0/PathNotebooks.dll),
#  2. installs the kernel tool Microsoft.dotnet-interactive 1.0.712001 into .tools/ (no global install, no root),
#  3. registers its kernels (".NET (C#)" = .net-csharp, the notebooks' kernelspec) with Jupyter.
# Then: jupyter notebook notebooks/   (or jupyter lab notebooks/)
# Usage: scripts/jupyter-kernel.sh [--kernels-dir DIR] [--no-build]
#   --kernels-dir  where to write the kernel specs (default: Jupyter's user data folder, $(jupyter --data-dir)/kernels)
#   --no-build     skip step 1 (the kit is already built)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
version=1.0.712001
kernels=""
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --kernels-dir) kernels="${2:?--kernels-dir needs a folder}"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: $0 [--kernels-dir DIR] [--no-build]" >&2; exit 2 ;;
  esac
done
if ! command -v jupyter >/dev/null || ! jupyter nbconvert --version >/dev/null 2>&1; then
  echo "Jupyter is not installed. Debian/Ubuntu: sudo apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient" >&2
  echo "(elsewhere: pip install notebook nbconvert)" >&2
  exit 1
fi
[ -n "$kernels" ] || kernels="$(jupyter --data-dir)/kernels"

tools="$root/.tools/dotnet-interactive-$version"
if [ ! -x "$tools/dotnet-interactive" ]; then
  dotnet tool install --tool-path "$tools" Microsoft.dotnet-interactive --version "$version" >/dev/null
fi
[ "$build" = 1 ] && bash scripts/setup.sh

mkdir -p "$kernels"
"$tools/dotnet-interactive" jupyter install --path "$kernels" >/dev/null
# The tool writes specs that start `dotnet interactive` (a global tool); point them at the install above instead.
python3 - "$kernels" "$tools/dotnet-interactive" <<'PY'
import json, os, sys
kernels, tool = sys.argv[1], sys.argv[2]
for name in (".net-csharp", ".net-fsharp", ".net-pwsh"):
    spec_path = os.path.join(kernels, name, "kernel.json")
    if not os.path.exists(spec_path):
        continue
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    argv = spec["argv"]
    if argv[:2] == ["dotnet", "interactive"]:
        spec["argv"] = [tool] + argv[2:]
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2)
PY
echo "Registered the .NET Interactive $version kernels in $kernels (tool: $tools)."
echo "Start the course with: jupyter notebook notebooks/"

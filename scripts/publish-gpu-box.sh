#!/usr/bin/env bash
# Packs the kit for a GPU machine that has PyTorch but no .NET (see README, "GPU boxes").
#  - self-contained linux-x64 publish of `pathnb` (no .NET needed there)
#  - TorchBackend=none: no libtorch of its own; at run time it uses PyTorch's torch/lib (CUDA included)
#  - the notebooks and datasets beside it, plus run.sh that sets the loader path
# Output: .artifacts/pathnb-gpu.tar.xz (about 40 MB). Unpack it there and call ./pathnb-gpu/run.sh reproduce
set -euo pipefail
cd "$(dirname "$0")/.."
out=.artifacts/pathnb-gpu
rm -rf "$out" .artifacts/pathnb-gpu.tar.xz
dotnet publish lib/PathNotebooks.Cli/PathNotebooks.Cli.csproj -c Release -r linux-x64 --self-contained \
  -p:TorchBackend=none -p:DebugType=none -o "$out/app"
# Keep the CPU build of this machine untouched by the RID-specific restore above.
dotnet restore lib/PathNotebooks.Cli/PathNotebooks.Cli.csproj >/dev/null
cp -r notebooks "$out/notebooks"
[ -d datasets ] && cp -r datasets "$out/datasets"
cp PathNotebooks.sln "$out/"                       # marks the folder that holds notebooks/ for `pathnb reproduce`
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs pathnb against the PyTorch installed on this machine (python3 -c 'import torch' must work),
# or against the libtorch folder in PATHNB_LIBTORCH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${PATHNB_LIBTORCH:-}" ]; then
  PATHNB_LIBTORCH="$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')"
fi
export PATHNB_LIBTORCH
export LD_LIBRARY_PATH="$here/app:$PATHNB_LIBTORCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cd "$here"
exec "$here/app/pathnb" "$@"
RUN
chmod +x "$out/run.sh" "$out/app/pathnb"
tar -C .artifacts -cJf .artifacts/pathnb-gpu.tar.xz pathnb-gpu
ls -la .artifacts/pathnb-gpu.tar.xz

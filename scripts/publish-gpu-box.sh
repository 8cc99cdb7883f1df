#!/usr/bin/env bash
# Packs the kit for a GPU machine that has PyTorch but no .NET and no NuGet access (see README, "GPUs").
#  app/                       self-contained linux-x64 `pathnb` (no .NET needed there), TorchBackend=none: it uses
#                             PyTorch's torch/lib (CUDA included) at run time
#  app/notebook-runner/       the notebook runner (the .NET Interactive C# kernel, in process), self-contained too
#  lib/PathNotebooks/bin/Release/net10.0/
#                             the kit and every package the notebooks' `#r "nuget: …"` lines name, where the notebooks'
#                             `#r "../lib/…/PathNotebooks.dll"` finds the kit; the runner serves the package lines from
#                             here (`--packages-from`), with the packages' kernel extensions in interactive-extensions/
#  notebooks/, datasets/, run.sh (sets the loader path and the package folder)
# Output: .artifacts/pathnb-gpu.tar.xz. Unpack it there and call ./pathnb-gpu/run.sh reproduce
set -euo pipefail
cd "$(dirname "$0")/.."
out=.artifacts/pathnb-gpu
kit="$out/lib/PathNotebooks/bin/Release/net10.0"
rm -rf "$out" .artifacts/pathnb-gpu.tar.xz
common=(-c Release -r linux-x64 -p:TorchBackend=none -p:DebugType=none)
dotnet publish lib/PathNotebooks.Cli/PathNotebooks.Cli.csproj "${common[@]}" --self-contained -o "$out/app"
dotnet publish lib/PathNotebooks.Notebooks/PathNotebooks.Notebooks.csproj "${common[@]}" --self-contained -o "$out/app/notebook-runner"
dotnet publish lib/PathNotebooks/PathNotebooks.csproj "${common[@]}" --self-contained false -o "$kit"
# FSharp.Core comes from the runner, as in the real kernel (whose own FSharp.Core serves Plotly.NET through Kit.Init):
# a second copy in the package folder makes the kernel's assembly loader fail on the version mismatch.
rm "$kit/FSharp.Core.dll"

# The two packages the notebooks name that the kit itself does not reference: restored here, copied with their
# kernel extensions (Plotly.NET.Interactive draws charts, Microsoft.Data.Analysis formats DataFrames).
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
probe=$(mktemp -d)
cat > "$probe/probe.csproj" <<'PROJ'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally><NoWarn>NU1603</NoWarn></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Plotly.NET.Interactive" Version="6.0.0" />
    <PackageReference Include="Microsoft.Data.Analysis" Version="0.23.1" />
  </ItemGroup>
</Project>
PROJ
dotnet restore "$probe/probe.csproj" >/dev/null
rm -rf "$probe"
cp "$packages/plotly.net.interactive/6.0.0/lib/netstandard2.1/Plotly.NET.Interactive.dll" "$kit/"
for id in Plotly.NET.Interactive Microsoft.Data.Analysis; do
  lower=$(echo "$id" | tr '[:upper:]' '[:lower:]')
  version=$([ "$id" = Plotly.NET.Interactive ] && echo 6.0.0 || echo 0.23.1)
  mkdir -p "$kit/interactive-extensions/$id"
  cp "$packages/$lower/$version/interactive-extensions/dotnet/"*.dll "$kit/interactive-extensions/$id/"
done

# Keep the CPU build of this machine untouched by the RID-specific restores above.
dotnet restore PathNotebooks.sln >/dev/null
cp -r notebooks "$out/notebooks"
[ -d datasets ] && cp -r datasets "$out/datasets"
cp PathNotebooks.sln "$out/"                       # marks the folder that holds notebooks/ for `pathnb reproduce`
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs pathnb against the PyTorch installed on this machine (python3 -c 'import torch' must work),
# or against the libtorch folder in PATHNB_LIBTORCH. Notebooks get their packages from the bundle (no NuGet here).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${PATHNB_LIBTORCH:-}" ]; then
  PATHNB_LIBTORCH="$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')"
fi
export PATHNB_LIBTORCH
export LD_LIBRARY_PATH="$here/app:$PATHNB_LIBTORCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cd "$here"
packages=(--packages-from "$here/lib/PathNotebooks/bin/Release/net10.0")
case "${1:-} ${2:-}" in
  "reproduce "*) exec "$here/app/pathnb" "$@" "${packages[@]}" ;;
  "notebook run") exec "$here/app/pathnb" "$@" "${packages[@]}" ;;
  *) exec "$here/app/pathnb" "$@" ;;
esac
RUN
chmod +x "$out/run.sh" "$out/app/pathnb" "$out/app/notebook-runner/pathnb-notebook"
tar -C .artifacts -cJf .artifacts/pathnb-gpu.tar.xz pathnb-gpu
ls -la .artifacts/pathnb-gpu.tar.xz

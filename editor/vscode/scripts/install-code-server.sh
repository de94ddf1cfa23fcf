#!/usr/bin/env bash
# Install code-server (VS Code in the browser) for the extension's end-to-end test, cached outside
# the repository (SPARK_EDITOR_CACHE, default ~/.cache/spark-editor-tests). Idempotent: prints
# code-server's entry point and exits at once when the cached install is complete.
# `--check` only prints it, or exits 1 when it is not installed. Needs node 20, npm, a C/C++ toolchain, Debian's ripgrep and the headers of
# libkrb5-dev libxkbfile-dev libsecret-1-dev (see .ci/run).
#
# Quirk handled here: @vscode/ripgrep's postinstall downloads `rg` from GitHub, which this machine
# cannot reach; its download cache is seeded with Debian's /usr/bin/rg instead.
set -euo pipefail

VERSION="${CODE_SERVER_VERSION:-4.100.3}"  # the newest code-server that runs on node 20
CACHE="${SPARK_EDITOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spark-editor-tests}"
PREFIX="$CACHE/code-server-$VERSION"
BIN="$PREFIX/node_modules/code-server/out/node/entry.js"

if [ -f "$PREFIX/.complete" ] && [ -f "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "code-server $VERSION is not installed in $PREFIX" >&2
  exit 1
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != 20 ]; then
  echo "code-server $VERSION needs node 20, found $(node --version)" >&2
  exit 1
fi
RG="$(command -v rg || true)"
if [ -z "$RG" ]; then
  echo "ripgrep is missing: apt-get install -y ripgrep" >&2
  exit 1
fi

rm -rf "$PREFIX"
mkdir -p "$PREFIX/tmp"
work="$PREFIX/tmp"

# Which @vscode/ripgrep code-server pins, and which ripgrep release that package downloads.
(cd "$work" && npm pack --silent "code-server@$VERSION" >/dev/null)
tar -xzf "$work/code-server-$VERSION.tgz" -C "$work" package/lib/vscode/npm-shrinkwrap.json
rg_pkg="$(node -p "require('$work/package/lib/vscode/npm-shrinkwrap.json').packages['node_modules/@vscode/ripgrep'].version")"
(cd "$work" && npm pack --silent "@vscode/ripgrep@$rg_pkg" >/dev/null)
tar -xzf "$work/vscode-ripgrep-$rg_pkg.tgz" -C "$work" package/lib/postinstall.js
rg_release="$(sed -n "s/^const VERSION = '\(.*\)';/\1/p" "$work/package/lib/postinstall.js")"
case "$(uname -m)" in
  x86_64) target=x86_64-unknown-linux-musl ;;
  aarch64 | arm64) target=aarch64-unknown-linux-musl ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
seed="$work/vscode-ripgrep-cache-$rg_pkg"
mkdir -p "$seed/rgdir"
cp "$RG" "$seed/rgdir/rg"
tar -czf "$seed/ripgrep-$rg_release-$target.tar.gz" -C "$seed/rgdir" rg
echo "seeded @vscode/ripgrep $rg_pkg ($rg_release, $target) with $RG"

# TMPDIR is where @vscode/ripgrep looks for its download cache; node-pty's postinstall runs
# `npx node-gyp`, which needs npm_config_yes to install node-gyp without asking.
(
  cd "$PREFIX"
  echo '{"name": "spark-code-server", "private": true}' > package.json
  TMPDIR="$work" npm_config_unsafe_perm=true npm_config_yes=true npm install --no-audit --no-fund \
    --loglevel=error "code-server@$VERSION"
)
"$PREFIX/node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" --version >/dev/null
rm -rf "$work"
touch "$PREFIX/.complete"
echo "$BIN"

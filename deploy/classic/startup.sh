#!/bin/sh
# datasync-agent start script for Linux, macOS and any POSIX shell: the counterpart of the
# classic agent's start script, in the release archive (`npm run dist`) next to config/ and
# node_modules/. It runs the agent with config/application.yaml from this directory:
#
#   ./startup.sh                        run; Ctrl-C or SIGTERM stops it (requests drain first)
#   ./startup.sh check                  test the configuration, the data sources and the hub URLs
#   ./startup.sh check --offline        only decode the configuration
#   ./startup.sh --config /etc/datasync-agent/application.yaml   another configuration file
#
# Every argument goes to `datasync-agent` (a --config given here wins over the default one).
# Node.js 20 or later: $DATASYNC_NODE if set, else node/bin/node in this directory (a Node.js
# runtime unpacked there), else `node` on the PATH. The script replaces itself with node
# (exec): signals reach the agent directly and the agent's exit code is the script's
# (0 stopped, 1 failure, 2 invalid configuration; 127 when no suitable Node.js is found).
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
min_major=20

# True when $1 is a Node.js of at least $min_major.
node_ok() {
  [ -n "$1" ] && "$1" -e "process.exit(Number(process.versions.node.split('.')[0]) >= $min_major ? 0 : 1)" >/dev/null 2>&1
}

no_node() {
  echo "datasync-agent: $1 Install Node.js $min_major or later, or set DATASYNC_NODE to its node binary." >&2
  exit 127
}

if [ -n "${DATASYNC_NODE:-}" ]; then
  node_ok "$DATASYNC_NODE" || no_node "DATASYNC_NODE=$DATASYNC_NODE is not Node.js $min_major or later."
  node_bin=$DATASYNC_NODE
elif node_ok "$here/node/bin/node"; then
  node_bin=$here/node/bin/node
elif node_ok "$(command -v node 2>/dev/null || true)"; then
  node_bin=$(command -v node)
else
  no_node "no Node.js $min_major or later in $here/node/bin or on the PATH (found: $(node --version 2>/dev/null || echo none))."
fi

exec "$node_bin" "$here/node_modules/datasync-agent/dist/src/cli/agent.js" --config "$here/config/application.yaml" "$@"

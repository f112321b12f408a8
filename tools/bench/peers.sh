# tools/bench/peers.sh: builds tokio's and Go's sides of the benchmarks (tokio/, go/) outside
# Bazel, into a cache of their own, when `tools/bootstrap --bench` has installed Debian's cargo,
# librust-tokio-dev and golang-go. Sourced by echo_bench.sh and micro_bench.sh, with $runfiles set:
#
#   source "$runfiles/tools/bench/peers.sh"
#   build_tokio && "$peers/tokio/release/tokio_echo" ...   # false, saying why, if it cannot
#   build_go go_echo && "$peers/go_echo" ...
peers="${XDG_CACHE_HOME:-$HOME/.cache}/giambio-bench"

# Builds every binary of tools/bench/tokio into $peers/tokio/release (once per run of a script).
build_tokio() {
  if [ -n "${tokio_built:-}" ]; then "$tokio_built"; return; fi
  tokio_built=false
  if [ ! -x /usr/bin/cargo ] || ! compgen -G "/usr/share/cargo/registry/tokio-1.*" >/dev/null; then
    echo "bench: no cargo or librust-tokio-dev (tools/bootstrap --bench): tokio left out" >&2
    return 1
  fi
  rm -rf "$peers/tokio_src"
  mkdir -p "$peers/tokio_src"
  cp -rL "$runfiles/tools/bench/tokio/." "$peers/tokio_src/"
  # Offline, against the crates Debian packaged (no network, no crates.io).
  if ! (cd "$peers/tokio_src" && CARGO_HOME="$peers/cargo" /usr/bin/cargo build --quiet \
          --release --offline --target-dir "$peers/tokio" \
          --config 'source.crates-io.replace-with="debian"' \
          --config 'source.debian.directory="/usr/share/cargo/registry"') >&2; then
    echo "bench: building tools/bench/tokio failed: tokio left out" >&2
    return 1
  fi
  tokio_built=true
}

# Builds tools/bench/go/NAME.go into $peers/NAME.
build_go() {
  if ! command -v go >/dev/null; then
    echo "bench: no go (tools/bootstrap --bench installs golang-go): Go left out" >&2
    return 1
  fi
  if ! GOCACHE="$peers/go" GO111MODULE=off go build -o "$peers/$1" \
         "$runfiles/tools/bench/go/$1.go" >&2; then
    echo "bench: building tools/bench/go/$1.go failed: Go left out" >&2
    return 1
  fi
}

#!/usr/bin/env bash
# Builds the native decomposer with AddressSanitizer + UndefinedBehaviorSanitizer into
# packages/fit-native/build-asan/ (build/Release/phs_fit.node is left alone) and runs, against
# that binary: the decomposer's own tests, a fuzz loop of hostile spectra and parameters, and a
# concurrency check (many decomposeBatch calls in flight from async callers and two
# worker_threads, results identical to sequential). Any sanitizer report aborts the process
# that hit it, and the script fails.
#
#   scripts/native-sanitize.sh [--cases N] [--seed S] [--skip-build]
#
# Node itself is not instrumented: the ASan runtime is preloaded (LD_PRELOAD) and leak
# detection is off there, since every allocation Node makes outside the addon would be
# reported; leaks are checked on a plain executable that drives the native core
# (packages/fit-native/sanitize/leak_check.cc). PHS_FIT_NATIVE_PATH points the TypeScript
# wrapper at the sanitized binary. --cases N sets the fuzz cases (the leak check runs N / 10).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pkg=$root/packages/fit-native
out=$pkg/build-asan
cases=3000
seed=1
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --cases) cases=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --skip-build) build=0; shift ;;
    *) echo "usage: $0 [--cases N] [--seed S] [--skip-build]" >&2; exit 2 ;;
  esac
done

flags="-O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all"
start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Runs a step, keeps its output, and fails on a non-zero exit or any sanitizer report in it.
step() {
  local name=$1; shift
  echo "== $name"
  if ! "$@" >"$log" 2>&1; then
    cat "$log"
    echo "native-sanitize: FAILED in $name" >&2
    exit 1
  fi
  if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$log"; then
    cat "$log"
    echo "native-sanitize: sanitizer report in $name" >&2
    exit 1
  fi
  tail -n "${TAIL:-3}" "$log"
}

libasan=$(gcc -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
  echo "native-sanitize: gcc's libasan.so not found (apt-get install gcc)" >&2
  exit 1
fi

if [ "$build" = 1 ]; then
  # A copy of the gyp project, so that node-gyp's build/ does not touch the release build.
  rm -rf "$out/gyp"
  mkdir -p "$out/gyp"
  cp "$pkg/binding.gyp" "$out/gyp/"
  cp -r "$pkg/native" "$out/gyp/native"
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  nodedir_flag=()
  [ -f "$nodedir/include/node/node_api.h" ] && nodedir_flag=(--nodedir="$nodedir")
  step "build (ASan + UBSan)" env CXXFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined,float-cast-overflow" \
    "$root/node_modules/.bin/node-gyp" rebuild --directory "$out/gyp" "${nodedir_flag[@]}" --jobs 2
  # (a new file replaces the old: a process still using the old binary keeps it)
  cp "$out/gyp/build/Release/phs_fit.node" "$out/phs_fit.node.tmp"
  mv -f "$out/phs_fit.node.tmp" "$out/phs_fit.node"
fi
[ -f "$out/phs_fit.node" ] || { echo "native-sanitize: $out/phs_fit.node missing" >&2; exit 1; }
"$root/node_modules/.bin/tsc" -b "$pkg"

asan_options=abort_on_error=1:halt_on_error=1:allocator_may_return_null=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:abort_on_error=1
# Node with the addon's sanitizer runtime preloaded (set only for these commands).
sanitized=(env PHS_FIT_NATIVE_PATH="$out/phs_fit.node" LD_PRELOAD="$libasan" ASAN_OPTIONS="detect_leaks=0:$asan_options")

# The binary really is the instrumented one.
step "sanitizer check" "${sanitized[@]}" node -e '
  const nm = require("node:child_process").execFileSync("nm", ["-D", process.env.PHS_FIT_NATIVE_PATH]).toString()
  if (!/__asan_/.test(nm) || !/__ubsan_/.test(nm)) { console.error("not an ASan + UBSan build"); process.exit(1) }
  require(process.env.PHS_FIT_NATIVE_PATH)
  console.log("instrumented and loadable:", process.env.PHS_FIT_NATIVE_PATH)'
TAIL=6 step "decomposer tests" "${sanitized[@]}" "$root/node_modules/.bin/vitest" run packages/fit-native
step "fuzz" "${sanitized[@]}" node "$pkg/sanitize/fuzz.mjs" --cases "$cases" --seed "$seed"
step "concurrency" "${sanitized[@]}" node "$pkg/sanitize/concurrency.mjs"

# Leaks: Node is not instrumented, so LeakSanitizer runs on a plain executable that drives the
# native core (everything but the Node-API binding) through the same kinds of input.
if [ "$build" = 1 ] || [ ! -x "$out/leak_check" ]; then
  step "build leak check" g++ -std=c++17 $flags -pthread -Wall -Wextra \
    "$pkg"/native/{noise,persistence,lm,refine,decompose,batch}.cc "$pkg/sanitize/leak_check.cc" -o "$out/leak_check.tmp"
  mv -f "$out/leak_check.tmp" "$out/leak_check"
fi
step "leak check" env ASAN_OPTIONS="detect_leaks=1:$asan_options" "$out/leak_check" "$(( cases / 10 ))" "$seed"
echo "native-sanitize: passed (no sanitizer reports) in $(( $(date +%s) - start )) s"

#!/bin/sh
# Runs the emulated AWS suite (test/aws) in private network and PID namespaces: the
# emulators are reachable only from inside (DynamoDB Local cannot be bound to loopback),
# and every process started inside dies with the run (Ctrl-C stops it; so does SIGKILL to
# unshare, whose --kill-child then takes the namespace down). Needs root (or user namespaces).
# Arguments go to vitest, e.g. `test/aws/run.sh handlers`.
set -eu
cd "$(dirname "$0")/../.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
# s3rver's ListObjectsV2 continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider.
export NODE_OPTIONS="${NODE_OPTIONS:-} --openssl-legacy-provider"
exec unshare --net --pid --fork --mount-proc --kill-child sh -c \
  'ip link set lo up && node node_modules/vitest/vitest.mjs run --config test/aws/vitest.config.ts "$@"' sh "$@"

#!/usr/bin/env bash
# `npm test`: install missing toolchains (as root), type-check, build the device kernels, run every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-toolchains.sh
npx tsc --noEmit -p tsconfig.json
npx vitest run "$@"

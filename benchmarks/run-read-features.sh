#!/bin/sh
# Compiles the library and benchmarks into build/bench and runs benchmarks/read-features.ts
# (arguments are passed on: --dir D, --rounds N), which makes the slide files with PyTorch and
# numpy on first use and times torch.load / np.load (PYTHON, default Debian's /usr/bin/python3
# with python3-torch and python3-numpy) beside ours, round by round.
set -e
cd "$(dirname "$0")/.."
out=build/bench
npx tsc -p . --outDir "$out"
cp package.json "$out/"  # lib/info.ts reads the version from ../package.json
WSI_VQA_ADDON="${WSI_VQA_ADDON:-$PWD/build/Release/wsi_vqa.node}" node "$out/benchmarks/read-features.js" "$@"

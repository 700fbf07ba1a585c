#!/bin/sh
# Compiles the library and benchmarks into build/bench, runs benchmarks/ce-moe.ts (arguments
# are passed on: --device cpu|cuda:N, --small), then the PyTorch baseline when PyTorch is there.
set -e
cd "$(dirname "$0")/.."
out=build/bench
npx tsc -p . --outDir "$out"
cp package.json "$out/"  # lib/info.ts reads the version from ../package.json
WSI_VQA_ADDON="$PWD/build/Release/wsi_vqa.node" node "$out/benchmarks/ce-moe.js" "$@"
python3 benchmarks/torch_baseline.py

#!/bin/sh
# Compiles the library and benchmarks into build/bench, runs benchmarks/qwen3-layers.ts (arguments
# passed on: --device cpu|cuda:N, --tokens T), then the eager PyTorch baseline when PyTorch and a
# GPU are there.
set -e
cd "$(dirname "$0")/.."
out=build/bench
npx tsc -p . --outDir "$out"
cp package.json "$out/"  # lib/info.ts reads the version from ../package.json
WSI_VQA_ADDON="$PWD/build/Release/wsi_vqa.node" node "$out/benchmarks/qwen3-layers.js" "$@"
python3 benchmarks/torch_qwen3_layers.py || true

#!/bin/sh
# Compiles the library and benchmarks into build/bench, then runs benchmarks/cpu_gemm.py: our CPU
# GEMM and numpy's (OpenBLAS; with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE set and unset) on the
# Qwen3-4B projections, in interleaved rounds, with the ratios. Arguments go to cpu_gemm.py
# (--rounds N, --tokens 64,512, --min-time ms). $PYTHON: a Python with numpy (default Debian's).
set -e
cd "$(dirname "$0")/.."
out=build/bench
npx tsc -p . --outDir "$out"
cp package.json "$out/"  # lib/info.ts reads the version from ../package.json
WSI_VQA_ADDON="${WSI_VQA_ADDON:-$PWD/build/Release/wsi_vqa.node}" "${PYTHON:-/usr/bin/python3}" benchmarks/cpu_gemm.py "$@"

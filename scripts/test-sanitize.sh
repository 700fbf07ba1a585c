#!/usr/bin/env bash
# npm run test:sanitize — the native op tests and the Gloo process group tests once more, against
# an addon built with AddressSanitizer and UndefinedBehaviorSanitizer (CPU backend: the sanitizers
# cannot see into CUDA kernels; compute-sanitizer does that on a GPU machine). The ranks that the
# process group tests start inherit the instrumented addon through WSI_VQA_ADDON and LD_PRELOAD.
#
# Node itself is not instrumented, so the ASan runtime is preloaded. Leak checking is off: Node
# keeps memory until exit on purpose, which LeakSanitizer would report as leaks of ours.
set -euo pipefail
cd "$(dirname "$0")/.."

npx cmake-js compile --out build-sanitize --CDWSI_VQA_SANITIZE=ON --CDWSI_VQA_CUDA=OFF --CDCMAKE_BUILD_TYPE=RelWithDebInfo

asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
export LD_PRELOAD="$asan:$ubsan"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export WSI_VQA_ADDON="$PWD/build-sanitize/Release/wsi_vqa.node"
npx vitest run test/ops test/tensor.test.ts test/distributed/launch.test.ts

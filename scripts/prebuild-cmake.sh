#!/usr/bin/env bash
# prebuildify's "node-gyp": it passes node-gyp flags (--target=…) that cmake-js would misread, so
# they are dropped; the addon is built by cmake-js (CUDA included when nvcc is found) into
# build/Release, from where prebuildify takes it to prebuilds/<platform>-<arch>/.
exec npx cmake-js rebuild

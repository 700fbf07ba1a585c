# The CPU-only build through node-gyp: the fallback when cmake-js cannot run. The source list is
# native/sources.txt, shared with CMakeLists.txt (which also builds the CUDA backend).
{
  "targets": [
    {
      "target_name": "wsi_vqa",
      "sources": ["<!@(node scripts/native-sources.mjs)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/include"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-O3", "-fexceptions", "-fno-math-errno"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}

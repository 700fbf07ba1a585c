// Shared libraries opened at run time (cuBLASLt, NCCL), so that building needs only nvcc and
// cudart. Each library is looked for, in order: the path in its environment variable, the
// loader's own search (LD_LIBRARY_PATH, ld.so.cache), the CUDA toolkit, Python nvidia-* wheels.
#pragma once

#include <string>
#include <vector>

namespace wsi {

struct LibrarySpec {
  const char* label;                 // "cuBLASLt"
  const char* env_var;               // "WSI_VQA_CUBLASLT": a full path to the library
  std::vector<std::string> sonames;  // "libcublasLt.so.13", "libcublasLt.so.12", ...
  const char* wheel_dir;             // "nvidia/cublas/lib" inside site-packages
  const char* pip_package;           // "nvidia-cublas-cu12": what to install when it is missing
};

struct LoadedLibrary {
  void* handle = nullptr;  // dlopen handle; nullptr when not found
  std::string path;        // where it was found
  std::vector<std::string> tried;
};

// Looks the library up once per process and keeps it open.
const LoadedLibrary& find_library(const LibrarySpec& spec);

// Returns the handle or throws MissingLibrary listing every place tried.
void* require_library(const LibrarySpec& spec);

// Resolves a symbol or throws MissingLibrary naming it.
void* require_symbol(const LibrarySpec& spec, const char* symbol);

const LibrarySpec& cublaslt_library();
const LibrarySpec& nccl_library();

}  // namespace wsi

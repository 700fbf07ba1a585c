#include "wsi/dynlib.h"

#include <dirent.h>
#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "wsi/error.h"

namespace wsi {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// site-packages folders where pip puts nvidia-* wheels: virtualenvs, conda, the user's and the
// system's Pythons. Globbing python3.* keeps us free of any one Python version.
std::vector<std::string> python_site_dirs() {
  std::vector<std::string> prefixes;
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (!env(var).empty()) prefixes.push_back(env(var) + "/lib");
  if (!env("HOME").empty()) prefixes.push_back(env("HOME") + "/.local/lib");
  for (const char* p : {"/usr/local/lib", "/usr/lib", "/opt/conda/lib"}) prefixes.push_back(p);

  std::vector<std::string> dirs;
  for (const auto& prefix : prefixes) {
    DIR* dir = opendir(prefix.c_str());
    if (!dir) continue;
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.rfind("python3", 0) != 0) continue;
      dirs.push_back(prefix + "/" + name + "/site-packages");
      dirs.push_back(prefix + "/" + name + "/dist-packages");
    }
    closedir(dir);
  }
  return dirs;
}

std::vector<std::string> cuda_toolkit_dirs() {
  std::vector<std::string> dirs;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"})
    if (!env(var).empty()) dirs.push_back(env(var) + "/lib64");
  dirs.push_back("/usr/local/cuda/lib64");
  dirs.push_back("/usr/local/cuda/targets/x86_64-linux/lib");
  dirs.push_back("/usr/lib/x86_64-linux-gnu");
  return dirs;
}

LoadedLibrary search(const LibrarySpec& spec) {
  LoadedLibrary lib;
  auto attempt = [&](const std::string& path) {
    lib.tried.push_back(path);
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return false;
    lib.handle = handle;
    lib.path = path;
    return true;
  };
  if (const std::string explicit_path = env(spec.env_var); !explicit_path.empty())
    if (attempt(explicit_path)) return lib;
  for (const auto& soname : spec.sonames)
    if (attempt(soname)) return lib;
  for (const auto& dir : cuda_toolkit_dirs())
    for (const auto& soname : spec.sonames)
      if (attempt(dir + "/" + soname)) return lib;
  for (const auto& dir : python_site_dirs())
    for (const auto& soname : spec.sonames)
      if (attempt(dir + "/" + spec.wheel_dir + "/" + soname)) return lib;
  return lib;
}

}  // namespace

const LoadedLibrary& find_library(const LibrarySpec& spec) {
  static std::mutex mutex;
  static std::map<std::string, LoadedLibrary> found;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = found.find(spec.label);
  if (it == found.end()) it = found.emplace(spec.label, search(spec)).first;
  return it->second;
}

void* require_library(const LibrarySpec& spec) {
  const LoadedLibrary& lib = find_library(spec);
  if (lib.handle) return lib.handle;
  std::string tried;
  for (const auto& path : lib.tried) tried += "\n  " + path;
  fail(ErrorCode::MissingLibrary, spec.label, " was not found. Install it (for example pip install ", spec.pip_package,
       ") or set ", spec.env_var,
       " to its path. Tried:", tried);
}

void* require_symbol(const LibrarySpec& spec, const char* symbol) {
  void* fn = dlsym(require_library(spec), symbol);
  WSI_CHECK(fn, ErrorCode::MissingLibrary, spec.label, " at ", find_library(spec).path, " has no symbol ", symbol);
  return fn;
}

const LibrarySpec& cublaslt_library() {
  static const LibrarySpec spec{"cuBLASLt", "WSI_VQA_CUBLASLT",
                                {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"},
                                "nvidia/cublas/lib", "nvidia-cublas-cu12"};
  return spec;
}

const LibrarySpec& nccl_library() {
  static const LibrarySpec spec{"NCCL", "WSI_VQA_NCCL", {"libnccl.so.2", "libnccl.so"}, "nvidia/nccl/lib", "nvidia-nccl-cu12"};
  return spec;
}

}  // namespace wsi

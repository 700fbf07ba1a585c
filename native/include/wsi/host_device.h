// WSI_HOST_DEVICE: a small inline function both backends compile (nvcc as __host__ __device__).
#pragma once

#if defined(__CUDACC__)
#define WSI_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define WSI_HOST_DEVICE inline
#endif

// GEMM entry point: checks which kernel can take the operands, slices long batches, and the
// reference kernel the tensor-core kernels are tested against.
#include "gemm_common.cuh"

namespace halfkit {
namespace cuda {
namespace {

using gemm_detail::store_c;

template <int In>
__device__ __forceinline__ float widen(uint16_t x) {
  return __uint_as_float(num::convert_bits<In, num::kF32>(x));
}

// One thread per output element, products accumulated in k order with fmaf: slow, and obviously
// right for any strides.
template <int In>
__global__ void gemm_reference(GemmArgs g) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * 16 + threadIdx.x;
  const int64_t t = blockIdx.z;
  if (j >= g.n) return;
  const uint16_t* a = static_cast<const uint16_t*>(g.a) + (g.a_off ? g.a_off[t] : 0);
  const uint16_t* b = static_cast<const uint16_t*>(g.b) + (g.b_off ? g.b_off[t] : 0);
  for (int64_t i = static_cast<int64_t>(blockIdx.y) * 16 + threadIdx.y; i < g.m;
       i += static_cast<int64_t>(gridDim.y) * 16) {
    float acc = 0.0f;
    for (int64_t p = 0; p < g.k; ++p) {
      acc = fmaf(widen<In>(a[i * g.a_rs + p * g.a_cs]), widen<In>(b[p * g.b_rs + j * g.b_cs]), acc);
    }
    const int64_t off = t * g.c_bs + i * g.ldc + j;
    store_c(g.c, g.out_format, off, &acc, 1);
  }
}

cudaError_t launch_reference(const GemmArgs& g, cudaStream_t stream) {
  const int64_t rows = (g.m + 15) / 16;
  const dim3 grid(static_cast<unsigned>((g.n + 15) / 16),
                  static_cast<unsigned>(rows < 65535 ? rows : 65535),
                  static_cast<unsigned>(g.batch));
  const dim3 block(16, 16);
  if (g.in_format == num::kBF16) {
    gemm_reference<num::kBF16><<<grid, block, 0, stream>>>(g);
  } else {
    gemm_reference<num::kF16><<<grid, block, 0, stream>>>(g);
  }
  return cudaGetLastError();
}

// An operand's layout as the tensor-core kernels see it: a unit stride along one axis (k when
// kmajor), the other stride a multiple of 8 elements (irrelevant when that axis has extent 1),
// and a 16-byte aligned base.
bool tensor_layout(const void* p, int64_t outer, int64_t outer_stride, int64_t k, int64_t k_stride,
                   bool* kmajor) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  if (k_stride == 1 && (outer == 1 || outer_stride % 8 == 0)) {
    *kmajor = true;
    return true;
  }
  if (outer_stride == 1 && (k == 1 || k_stride % 8 == 0)) {
    *kmajor = false;
    return true;
  }
  return false;
}

bool layouts(const GemmArgs& g, bool* a_kmajor, bool* b_kmajor) {
  return tensor_layout(g.a, g.m, g.a_rs, g.k, g.a_cs, a_kmajor) &&
         tensor_layout(g.b, g.n, g.b_cs, g.k, g.b_rs, b_kmajor);
}

int compute_capability() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return major * 10 + minor;
}

}  // namespace

const char* gemm_kernel_name(GemmKernel k) {
  switch (k) {
    case GemmKernel::kAuto:
      return "auto";
    case GemmKernel::kReference:
      return "reference";
    case GemmKernel::kSm80:
      return "sm80";
    case GemmKernel::kSm90:
      return "sm90";
  }
  return "?";
}

bool gemm_supported(GemmKernel kernel, int cc, const GemmArgs& g) {
  bool ak, bk;
  // With k = 0 no operand is read (gemm() writes the zeros), so any layout will do.
  switch (kernel) {
    case GemmKernel::kReference:
      return true;
    case GemmKernel::kSm80:
      return cc >= 80 && (g.k == 0 || layouts(g, &ak, &bk));
    case GemmKernel::kSm90:
      // sm_90a machine code runs on compute capability 9.0 only.
      return cc == 90 && gemm_sm90_compiled() &&
             (g.k == 0 || (layouts(g, &ak, &bk) && gemm_sm90_takes(g, ak, bk)));
    default:
      return false;
  }
}

cudaError_t gemm(const GemmArgs& args, GemmKernel kernel, cudaStream_t stream, GemmKernel* used) {
  if ((args.in_format != num::kF16 && args.in_format != num::kBF16) ||
      (args.out_format != num::kF32 && args.out_format != num::kF16 &&
       args.out_format != num::kBF16) ||
      args.m < 0 || args.n < 0 || args.k < 0 || args.batch < 0) {
    return cudaErrorInvalidValue;
  }
  const int cc = compute_capability();
  if (kernel == GemmKernel::kAuto) {
    // sm90 is the faster where both run (on an H100: 0.85-0.96x cuBLAS against sm80's
    // 0.26-0.36x; bench/results/gpu_gemm_h100.txt).
    kernel = gemm_supported(GemmKernel::kSm90, cc, args)   ? GemmKernel::kSm90
             : gemm_supported(GemmKernel::kSm80, cc, args) ? GemmKernel::kSm80
                                                           : GemmKernel::kReference;
  } else if (!gemm_supported(kernel, cc, args)) {
    return cudaErrorInvalidValue;
  }
  if (args.k == 0) kernel = GemmKernel::kReference;  // C = 0: nothing for tensor cores to do
  *used = kernel;
  if (args.m == 0 || args.n == 0 || args.batch == 0) return cudaSuccess;
  bool ak = true, bk = true;
  if (kernel != GemmKernel::kReference) layouts(args, &ak, &bk);
  for (int64_t start = 0; start < args.batch; start += gemm_detail::kMaxBatchPerLaunch) {
    GemmArgs g = args;
    g.batch = args.batch - start < gemm_detail::kMaxBatchPerLaunch
                  ? args.batch - start
                  : gemm_detail::kMaxBatchPerLaunch;
    if (g.a_off) g.a_off += start;
    if (g.b_off) g.b_off += start;
    g.c = static_cast<char*>(g.c) + start * g.c_bs * (g.out_format == num::kF32 ? 4 : 2);
    cudaError_t e;
    switch (kernel) {
      case GemmKernel::kSm90:
        e = gemm_sm90(g, ak, bk, stream);
        break;
      case GemmKernel::kSm80:
        e = gemm_sm80(g, ak, bk, stream);
        break;
      default:
        e = launch_reference(g, stream);
    }
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace cuda
}  // namespace halfkit

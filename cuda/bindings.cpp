// The Python module halfkit._cuda: raw device pointers and shapes in, launches on the caller's
// stream, CUDA errors out as Python exceptions. The Python layer (halfkit._gpu) does the
// checking against CuPy arrays.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.h"
#include "spec_args.h"

namespace py = pybind11;

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // a launch error stays sticky otherwise
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(e) + ": " +
                             cudaGetErrorString(e));
  }
}

void convert(uintptr_t src, uintptr_t dst, const std::vector<int64_t>& shape,
             const std::vector<int64_t>& src_strides, const std::vector<int64_t>& dst_strides,
             int sf, int df, uintptr_t stream, bool contiguous) {
  const size_t nd = shape.size();
  if (src_strides.size() != nd || dst_strides.size() != nd) {
    throw std::invalid_argument("shape and strides differ in length");
  }
  if (!contiguous && nd > static_cast<size_t>(halfkit::cuda::kMaxDims)) {
    throw std::invalid_argument("at most 32 dimensions are supported for non-contiguous arrays");
  }
  size_t n = 1;
  for (int64_t s : shape) n *= static_cast<size_t>(s);
  cudaError_t e;
  {
    py::gil_scoped_release nogil;
    e = halfkit::cuda::convert(sf, df, reinterpret_cast<const void*>(src),
                               reinterpret_cast<void*>(dst), n, contiguous, static_cast<int>(nd),
                               shape.data(), src_strides.data(), dst_strides.data(),
                               reinterpret_cast<cudaStream_t>(stream));
  }
  check(e, "halfkit CUDA conversion");
}

// Every call below takes device pointers to contiguous arrays of n elements, which the Python
// layer (halfkit._gpu) has checked.
void round_call(uintptr_t x, uintptr_t y, size_t n, int elem_size, const py::tuple& spec,
                uint64_t index0, uintptr_t stream) {
  const halfkit::RoundSpec s = halfkit::round_spec_from(spec);
  cudaError_t e;
  {
    py::gil_scoped_release nogil;
    e = halfkit::cuda::round(reinterpret_cast<const void*>(x), reinterpret_cast<void*>(y), n,
                             elem_size, index0, s, reinterpret_cast<cudaStream_t>(stream));
  }
  check(e, "halfkit CUDA round");
}

void encode_call(uintptr_t x, uintptr_t codes, size_t n, int elem_size, const py::tuple& spec,
                 const py::tuple& encode_spec, uint64_t index0, uintptr_t stream) {
  const halfkit::RoundSpec s = halfkit::round_spec_from(spec);
  const halfkit::EncodeSpec es = halfkit::encode_spec_from(encode_spec);
  cudaError_t e;
  {
    py::gil_scoped_release nogil;
    e = halfkit::cuda::encode(reinterpret_cast<const void*>(x), reinterpret_cast<uint8_t*>(codes),
                              n, elem_size, index0, s, es, reinterpret_cast<cudaStream_t>(stream));
  }
  check(e, "halfkit CUDA encode");
}

void decode_call(uintptr_t codes, uintptr_t y, size_t n, int elem_size, const py::bytes& table,
                 uintptr_t stream) {
  const std::string t = table;
  if (t.size() != 256 * static_cast<size_t>(elem_size)) {
    throw std::invalid_argument("decode: the table holds 256 results of elem_size bytes");
  }
  cudaError_t e;
  {
    py::gil_scoped_release nogil;
    e = halfkit::cuda::decode(reinterpret_cast<const uint8_t*>(codes), reinterpret_cast<void*>(y),
                              n, elem_size, t.data(), reinterpret_cast<cudaStream_t>(stream));
  }
  check(e, "halfkit CUDA decode");
}

void fixed_point_call(uintptr_t x, uintptr_t y, size_t n, int elem_size, const py::tuple& spec,
                      int out_bytes, uint64_t seed, uint64_t index0, uintptr_t stream) {
  const halfkit::FixedSpec f = halfkit::fixed_spec_from(spec, out_bytes, seed);
  cudaError_t e;
  {
    py::gil_scoped_release nogil;
    e = halfkit::cuda::fixed_point(reinterpret_cast<const void*>(x), reinterpret_cast<void*>(y), n,
                                   elem_size, index0, f, reinterpret_cast<cudaStream_t>(stream));
  }
  check(e, "halfkit CUDA fixed_point");
}

halfkit::cuda::GemmKernel gemm_kernel(const std::string& name) {
  using halfkit::cuda::GemmKernel;
  for (GemmKernel k :
       {GemmKernel::kAuto, GemmKernel::kReference, GemmKernel::kSm80, GemmKernel::kSm90}) {
    if (name == halfkit::cuda::gemm_kernel_name(k)) return k;
  }
  throw std::invalid_argument("unknown GEMM kernel '" + name +
                              "'; accepted: auto, reference, sm80, sm90");
}

// Kernel names usable on a device of compute capability cc, weakest first.
py::list gemm_kernels(int cc) {
  using halfkit::cuda::GemmKernel;
  // Operands every kernel accepts: 16-byte aligned, k-contiguous.
  halfkit::cuda::GemmArgs g{};
  g.m = g.n = g.k = g.batch = 1;
  g.a = g.b = reinterpret_cast<const void*>(uintptr_t{256});
  g.a_rs = g.b_cs = 8;
  g.a_cs = g.b_rs = 1;
  py::list out;
  for (GemmKernel k : {GemmKernel::kReference, GemmKernel::kSm80, GemmKernel::kSm90}) {
    if (halfkit::cuda::gemm_supported(k, cc, g)) out.append(halfkit::cuda::gemm_kernel_name(k));
  }
  return out;
}

std::string gemm(uintptr_t a, int64_t a_rs, int64_t a_cs, uintptr_t a_off, uintptr_t b,
                 int64_t b_rs, int64_t b_cs, uintptr_t b_off, uintptr_t c, int64_t ldc,
                 int64_t c_bs, int64_t m, int64_t n, int64_t k, int64_t batch, int in_format,
                 int out_format, const std::string& kernel, uintptr_t stream) {
  halfkit::cuda::GemmArgs g{};
  g.m = m;
  g.n = n;
  g.k = k;
  g.batch = batch;
  g.in_format = in_format;
  g.out_format = out_format;
  g.a = reinterpret_cast<const void*>(a);
  g.a_rs = a_rs;
  g.a_cs = a_cs;
  g.a_off = reinterpret_cast<const int64_t*>(a_off);
  g.b = reinterpret_cast<const void*>(b);
  g.b_rs = b_rs;
  g.b_cs = b_cs;
  g.b_off = reinterpret_cast<const int64_t*>(b_off);
  g.c = reinterpret_cast<void*>(c);
  g.ldc = ldc;
  g.c_bs = c_bs;
  const halfkit::cuda::GemmKernel wanted = gemm_kernel(kernel);
  halfkit::cuda::GemmKernel used = wanted;
  cudaError_t e;
  {
    py::gil_scoped_release nogil;
    e = halfkit::cuda::gemm(g, wanted, reinterpret_cast<cudaStream_t>(stream), &used);
  }
  if (e == cudaErrorInvalidValue) {
    cudaGetLastError();
    throw std::invalid_argument("GEMM kernel '" + kernel +
                                "' cannot run these operands on this device (the tensor-core "
                                "kernels need compute capability 8.0+, 9.0 for sm90, and "
                                "16-byte aligned operands with one unit stride each; sm90 "
                                "also one matrix at a time, not a stack, with positive "
                                "strides and rows that do not overlap)");
  }
  check(e, "halfkit CUDA GEMM");
  return halfkit::cuda::gemm_kernel_name(used);
}

py::dict device_info(int device) {
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  py::dict d;
  d["name"] = std::string(p.name);
  d["compute_capability"] = py::make_tuple(p.major, p.minor);
  d["multiprocessors"] = p.multiProcessorCount;
  d["memory_bytes"] = static_cast<size_t>(p.totalGlobalMem);
  d["l2_bytes"] = p.l2CacheSize;
  d["gemm_kernels"] = gemm_kernels(p.major * 10 + p.minor);
  return d;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "halfkit's CUDA kernels (internal: use the halfkit package)";
  m.def("convert", &convert, py::arg("src"), py::arg("dst"), py::arg("shape"),
        py::arg("src_strides"), py::arg("dst_strides"), py::arg("src_format"),
        py::arg("dst_format"), py::arg("stream"), py::arg("contiguous"));
  m.def("gemm", &gemm, py::arg("a"), py::arg("a_rs"), py::arg("a_cs"), py::arg("a_off"),
        py::arg("b"), py::arg("b_rs"), py::arg("b_cs"), py::arg("b_off"), py::arg("c"),
        py::arg("ldc"), py::arg("c_bs"), py::arg("m"), py::arg("n"), py::arg("k"), py::arg("batch"),
        py::arg("in_format"), py::arg("out_format"), py::arg("kernel"), py::arg("stream"));
  m.def("round", &round_call, py::arg("x"), py::arg("y"), py::arg("n"), py::arg("elem_size"),
        py::arg("spec"), py::arg("index0"), py::arg("stream"));
  m.def("encode", &encode_call, py::arg("x"), py::arg("codes"), py::arg("n"), py::arg("elem_size"),
        py::arg("spec"), py::arg("encode_spec"), py::arg("index0"), py::arg("stream"));
  m.def("decode", &decode_call, py::arg("codes"), py::arg("y"), py::arg("n"), py::arg("elem_size"),
        py::arg("table"), py::arg("stream"));
  m.def("fixed_point", &fixed_point_call, py::arg("x"), py::arg("y"), py::arg("n"),
        py::arg("elem_size"), py::arg("spec"), py::arg("out_bytes"), py::arg("seed"),
        py::arg("index0"), py::arg("stream"));
  m.def("device_count", []() -> py::tuple {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      return py::make_tuple(0, std::string(cudaGetErrorString(e)));
    }
    return py::make_tuple(n, std::string());
  });
  m.def("device_info", &device_info, py::arg("device"));
  m.def("runtime_version", [] {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return v;
  });
}

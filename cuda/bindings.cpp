// The Python module halfkit._cuda: raw device pointers and shapes in, launches on the caller's
// stream, CUDA errors out as Python exceptions. The Python layer (halfkit._cupy) does the
// checking against CuPy arrays.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.h"

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

py::dict device_info(int device) {
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  py::dict d;
  d["name"] = std::string(p.name);
  d["compute_capability"] = py::make_tuple(p.major, p.minor);
  d["multiprocessors"] = p.multiProcessorCount;
  d["memory_bytes"] = static_cast<size_t>(p.totalGlobalMem);
  d["l2_bytes"] = p.l2CacheSize;
  return d;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "halfkit's CUDA kernels (internal: use the halfkit package)";
  m.def("convert", &convert, py::arg("src"), py::arg("dst"), py::arg("shape"),
        py::arg("src_strides"), py::arg("dst_strides"), py::arg("src_format"),
        py::arg("dst_format"), py::arg("stream"), py::arg("contiguous"));
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

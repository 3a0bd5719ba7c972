// The Python module halfkit._core: argument checks, GIL release, calls. No arithmetic here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "convert.h"
#include "cpu_features.h"
#include "dispatch.h"
#include "threads.h"

namespace py = pybind11;
using namespace halfkit;

namespace {

constexpr size_t kFormatSize[num::kNumFormats] = {2, 2, 4, 8};

Isa tier_from_name(const std::string& name) {
  Isa isa;
  if (!parse_isa(name, &isa)) {
    throw py::value_error("unknown ISA tier '" + name +
                          "'; known tiers: scalar, avx2, avx512, avx512bf16");
  }
  if (!isa_supported(isa)) {
    throw py::value_error("ISA tier '" + name + "' is not supported on this CPU or build");
  }
  return isa;
}

// The byte range [lo, hi) an array's elements span.
std::pair<const char*, const char*> extent(const py::array& a) {
  const char* lo = static_cast<const char*>(a.data());
  const char* hi = lo + a.itemsize();
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (a.shape(i) == 0) return {lo, lo};
    const py::ssize_t span = (a.shape(i) - 1) * a.strides(i);
    (span < 0 ? lo : hi) += span;
  }
  return {lo, hi};
}

constexpr int kOverlap = -1;

// src and dst are arrays of the same shape whose item sizes match the formats; the Python
// layer has checked the dtypes, and these checks guard the memory accesses. Returns 1 when a
// float16 destination overflowed, 0 otherwise, and kOverlap (having written nothing) when
// check_overlap is set and the two arrays' memory may overlap. fresh_dst: dst was just
// allocated, so its pages are first touched here; the kernel zeroes each page into the cache on
// that first touch, and writing around the cache would then cost more than it saves (64M
// elements, float16 -> float64, 2 threads: 48 ms with ordinary stores, 62 ms with streaming).
int convert(const py::array& src, py::array& dst, int sf, int df, const std::string& tier,
            bool check_overlap, bool fresh_dst) {
  if (sf < 0 || sf >= num::kNumFormats || df < 0 || df >= num::kNumFormats) {
    throw py::value_error("format codes must be in [0, 4)");
  }
  const ConvertFn fn = convert_table(tier.empty() ? active_isa() : tier_from_name(tier)).fn[sf][df];
  if (!fn) throw py::value_error("no 16-bit conversion between these formats");
  const int nd = static_cast<int>(src.ndim());
  if (nd != dst.ndim()) throw py::value_error("source and destination differ in ndim");
  for (int i = 0; i < nd; ++i) {
    if (src.shape(i) != dst.shape(i))
      throw py::value_error("source and destination differ in shape");
  }
  if (static_cast<size_t>(src.itemsize()) != kFormatSize[sf] ||
      static_cast<size_t>(dst.itemsize()) != kFormatSize[df]) {
    throw py::value_error("array item sizes do not match the format codes");
  }
  if (!dst.writeable()) throw py::value_error("halfkit.astype: out is read-only");
  if (check_overlap) {
    const auto a = extent(src), b = extent(dst);
    if (a.first < b.second && b.first < a.second) return kOverlap;
  }
  const char* s = static_cast<const char*>(src.data());
  char* d = static_cast<char*>(dst.mutable_data());
  const ptrdiff_t* shape = src.shape();
  const ptrdiff_t* ss = src.strides();
  const ptrdiff_t* ds = dst.strides();
  py::gil_scoped_release nogil;
  const bool ovf =
      convert_nd(fn, s, ss, d, ds, shape, nd, kFormatSize[sf], kFormatSize[df], !fresh_dst);
  return ovf ? 1 : 0;
}

// Batched GEMM: for each i, c[i] (m x n float32, C order) = a at byte offset a_off[i] (m x k,
// strides of a's last two axes) times b at b_off[i] (k x n). The Python layer has checked
// dtypes, shapes and that every offset addresses a matrix inside its array.
void matmul(const py::array& a, const py::array& b, py::array_t<float>& c,
            const py::array_t<int64_t>& a_off, const py::array_t<int64_t>& b_off, int fmt,
            const std::string& tier) {
  if (fmt != num::kF16 && fmt != num::kBF16)
    throw py::value_error("format must be float16 or bfloat16");
  if (a.itemsize() != 2 || b.itemsize() != 2) throw py::value_error("inputs must be 16-bit");
  if (a.ndim() < 2 || b.ndim() < 2 || c.ndim() < 2) throw py::value_error("need matrices");
  const int m = static_cast<int>(a.shape(a.ndim() - 2));
  const int k = static_cast<int>(a.shape(a.ndim() - 1));
  const int n = static_cast<int>(b.shape(b.ndim() - 1));
  if (b.shape(b.ndim() - 2) != k || c.shape(c.ndim() - 2) != m || c.shape(c.ndim() - 1) != n) {
    throw py::value_error("matmul: inner dimensions do not match");
  }
  const size_t batch = static_cast<size_t>(a_off.size());
  if (static_cast<size_t>(b_off.size()) != batch ||
      static_cast<size_t>(c.size()) != batch * m * n) {
    throw py::value_error("matmul: batch sizes do not match");
  }
  if (!(c.flags() & py::array::c_style) || !c.writeable()) {
    throw py::value_error("matmul: the result buffer must be C-contiguous and writeable");
  }
  const GemmKernel& kern =
      gemm_table(tier.empty() ? active_isa() : tier_from_name(tier)).kernel[fmt];
  const char* ap = static_cast<const char*>(a.data());
  const char* bp = static_cast<const char*>(b.data());
  const ptrdiff_t a_rs = a.strides(a.ndim() - 2), a_cs = a.strides(a.ndim() - 1);
  const ptrdiff_t b_rs = b.strides(b.ndim() - 2), b_cs = b.strides(b.ndim() - 1);
  float* cp = c.mutable_data();
  const int64_t* ao = a_off.data();
  const int64_t* bo = b_off.data();
  py::gil_scoped_release nogil;
  auto one = [&](size_t i) {
    gemm(kern, fmt, ap + ao[i], a_rs, a_cs, bp + bo[i], b_rs, b_cs, cp + i * m * n, n, m, n, k);
  };
  // Enough products to keep every thread busy, or small ones: one per task (each then runs
  // single-threaded, as the pool is busy), with no synchronisation inside a product. Otherwise
  // one after another, each split over the pool. (16 x 128^3 with two threads: 114 GFLOP/s
  // when each product was split, the same as one thread.)
  const double flops = 2.0 * m * n * k;
  if (batch >= 2 * static_cast<size_t>(get_num_threads()) || (batch > 1 && flops < 4e6)) {
    parallel_for(batch, one);
  } else {
    for (size_t i = 0; i < batch; ++i) one(i);
  }
}

std::vector<std::string> tiers(bool supported_only) {
  std::vector<std::string> out;
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (supported_only ? isa_supported(isa) : isa_compiled(isa)) out.emplace_back(isa_name(isa));
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "halfkit's CPU kernels (internal: use the halfkit package)";
  m.def("convert", &convert, py::arg("src"), py::arg("dst"), py::arg("src_format"),
        py::arg("dst_format"), py::arg("tier") = std::string(), py::arg("check_overlap") = false,
        py::arg("fresh_dst") = false,
        "Convert src into dst (same shape); returns 1 when a float16 destination overflowed, "
        "else 0, or -1 (nothing written) when check_overlap is set and the arrays overlap. "
        "fresh_dst: dst was just allocated and not yet written.");
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("a_offsets"),
        py::arg("b_offsets"), py::arg("format"), py::arg("tier") = std::string(),
        "Batched 16-bit GEMM with float32 accumulation into the C-contiguous float32 array c.");
  m.def("isa", [] { return std::string(isa_name(active_isa())); });
  m.def("set_isa", [](const std::string& name) { set_active_isa(tier_from_name(name)); });
  m.def("isa_supported", [] { return tiers(true); });
  m.def("isa_compiled", [] { return tiers(false); });
  m.def("cpu_features", [] { return cpu_features().names(); });
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", [](int n) {
    if (n < 1)
      throw py::value_error("the number of threads must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  });
  m.attr("parallel_min_elements") = kParallelMinElements;
}

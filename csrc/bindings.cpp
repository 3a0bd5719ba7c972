// The Python module halfkit._core: argument checks, GIL release, calls. No arithmetic here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "convert.h"
#include "cpu_features.h"
#include "dispatch.h"
#include "numpy_patch.h"
#include "sigint.h"
#include "spec_args.h"
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

bool overlap(const py::array& a, const py::array& b) {
  const auto x = extent(a), y = extent(b);
  return x.first < y.second && y.first < x.second;
}

// Ctrl-C: calls of at least kInterruptibleWork flops (a conversion counts kConvertWork an
// element) made from the main thread stop within a block of work when SIGINT arrives and raise
// KeyboardInterrupt (what Python's handler raises, or KeyboardInterrupt if it raises nothing:
// the result is incomplete either way). Smaller calls end in well under a millisecond and pay
// nothing for it (the handler swap is two system calls).
constexpr double kInterruptibleWork = 1e8;
constexpr double kConvertWork = 20;
unsigned long g_main_thread = 0;

bool interruptible(double work) {
  return work >= kInterruptibleWork && PyThread_get_thread_ident() == g_main_thread;
}

void raise_if_interrupted(SigintStop& stop) {
  stop.restore();
  if (!stop.fired()) return;
  if (PyErr_CheckSignals() == 0) PyErr_SetNone(PyExc_KeyboardInterrupt);
  throw py::error_already_set();
}

// Whether np.errstate asks for underflow reports (numpy ignores them by default, and finding them
// costs a conversion 3-30%). numpy >= 2 keeps the state in a context variable, given a new
// value on every errstate entry or seterr call, so the answer is cached per value (held, so
// that its address is not reused); with numpy 1.x, np.geterr is asked every time (about 1 us).
struct ErrState {
  PyObject* var = nullptr;
  PyObject* geterr = nullptr;
  PyObject* seen = nullptr;
  bool under = false;
} g_err;

void init_errstate() {
  py::module_ np = py::module_::import("numpy");
  g_err.geterr = py::object(np.attr("geterr")).release().ptr();
  try {
    g_err.var =
        py::object(py::module_::import("numpy._core._multiarray_umath").attr("_extobj_contextvar"))
            .release()
            .ptr();
  } catch (py::error_already_set&) {
    g_err.var = nullptr;  // numpy 1.x
  }
}

bool underflow_wanted() {
  if (!g_err.geterr) init_errstate();
  PyObject* value = nullptr;
  if (g_err.var && PyContextVar_Get(g_err.var, nullptr, &value) < 0) throw py::error_already_set();
  if (value && value == g_err.seen) {
    Py_DECREF(value);
    return g_err.under;
  }
  const py::object modes = py::handle(g_err.geterr)();
  const bool under = !py::object(modes["under"]).equal(py::str("ignore"));
  if (value) {
    Py_XSETREF(g_err.seen, value);
    g_err.under = under;
  }
  return under;
}

// Conversions of fewer elements keep the GIL, as numpy's own casts do below 500: they end in
// well under a microsecond, and handing the GIL over and back is a large part of such a call.
constexpr size_t kHoldGilElements = 512;

// Runs a conversion between arrays already checked, with the GIL released (unless it is
// shorter than kHoldGilElements). fresh_dst: dst was just allocated, so its pages are first
// touched here; the kernel zeroes each page into the cache on that first touch, and writing
// around the cache would then cost more than it saves (64M elements, float16 -> float64, 2
// threads: 48 ms with ordinary stores, 62 ms streaming).
unsigned run_convert(ConvertFn fn, const py::array& src, py::array& dst, int sf, int df,
                     bool fresh_dst, bool underflow) {
  const char* s = static_cast<const char*>(src.data());
  char* d = static_cast<char*>(dst.mutable_data());
  const ptrdiff_t* shape = src.shape();
  const ptrdiff_t* ss = src.strides();
  const ptrdiff_t* ds = dst.strides();
  const int nd = static_cast<int>(src.ndim());
  SigintStop stop(interruptible(static_cast<double>(src.size()) * kConvertWork));
  const auto run = [&] {
    return convert_nd(fn, s, ss, d, ds, shape, nd, kFormatSize[sf], kFormatSize[df], !fresh_dst,
                      underflow);
  };
  unsigned flags;
  if (static_cast<size_t>(src.size()) < kHoldGilElements) {
    flags = run();
  } else {
    py::gil_scoped_release nogil;
    flags = run();
  }
  raise_if_interrupted(stop);
  return flags;
}

// src and dst are arrays of the same shape whose item sizes match the formats; the Python
// layer has checked the dtypes, and these checks guard the memory accesses. Returns the
// ConvertFlags raised (1 overflow, 2 underflow, 4 invalid), and kOverlap (having written
// nothing) when check_overlap is set and the two arrays' memory may overlap. underflow: whether
// to look for it; None: as np.errstate asks.
int convert(const py::array& src, py::array& dst, int sf, int df, const std::string& tier,
            bool check_overlap, bool fresh_dst, std::optional<bool> underflow) {
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
  if (check_overlap && overlap(src, dst)) return kOverlap;
  const bool under = underflow ? *underflow : num::can_underflow(sf, df) && underflow_wanted();
  return static_cast<int>(run_convert(fn, src, dst, sf, df, fresh_dst, under));
}

// What astype's fast path needs from the Python layer, set once at import: the dtype objects
// of the four formats (numpy gives ordinary arrays these very objects), numpy.empty_like, and
// the function that reports a conversion's flags under the caller's np.errstate.
// References are held for the life of the process (raw, so nothing is released after the
// interpreter has finalized).
struct FastPath {
  PyObject* dtype[num::kNumFormats] = {};
  PyObject* type[num::kNumFormats] = {};  // their scalar types (np.float16, ...)
  PyObject* empty_like = nullptr;
  PyObject* report_flags = nullptr;
} g_fast;

int format_of(PyObject* dtype) {
  for (int f = 0; f < num::kNumFormats; ++f) {
    if (g_fast.dtype[f] == dtype) return f;
  }
  return -1;
}

// A dtype argument given as one of the four dtype objects or their scalar types, the spellings
// most calls use (the Python layer resolves the others).
int format_of_arg(PyObject* dtype) {
  for (int f = 0; f < num::kNumFormats; ++f) {
    if (g_fast.dtype[f] == dtype || g_fast.type[f] == dtype) return f;
  }
  if (PyUnicode_Check(dtype)) {  // the names, the spelling a call most often uses after these
    static const char* const kNames[num::kNumFormats] = {"float16", "bfloat16", "float32",
                                                         "float64"};
    for (int f = 0; f < num::kNumFormats; ++f) {
      if (PyUnicode_CompareWithASCIIString(dtype, kNames[f]) == 0) return f;
    }
  }
  return -1;
}

// A py::array that holds nothing yet: pybind11's default constructor allocates an empty numpy
// array, which with its deallocation was a third of the time of a 16-element astype.
py::array no_array() { return py::reinterpret_steal<py::array>(py::handle()); }

PyObject* dtype_of(py::handle array) { return py::detail::array_proxy(array.ptr())->descr; }

// halfkit.astype for the common case, checked here in one pass (at 16 elements the Python
// checks cost twice the conversion): x exactly an ndarray of one of the four dtype objects, dst
// one of them with a 16-bit side, and out None or exactly an ndarray of dtype dst, of x's
// shape, writeable and not overlapping x. Returns the result, or None for the general path.
py::object astype_fast(py::handle x, py::handle dst, py::handle out) {
  PyTypeObject* ndarray = reinterpret_cast<PyTypeObject*>(py::detail::npy_api::get().PyArray_Type_);
  if (Py_TYPE(x.ptr()) != ndarray) return py::none();
  const int sf = format_of(dtype_of(x));
  const int df = format_of_arg(dst.ptr());
  if (sf < 0 || df < 0) return py::none();
  PyObject* dst_dtype = g_fast.dtype[df];
  const ConvertFn fn = convert_table(active_isa()).fn[sf][df];
  if (!fn) return py::none();
  const auto src = py::reinterpret_borrow<py::array>(x);
  py::array y = no_array();
  if (out.is_none()) {
    if (src.flags() & py::array::c_style) {
      // numpy's own constructor, which steals a reference to the dtype: pybind11's built two
      // vectors on the heap first.
      const auto& api = py::detail::npy_api::get();
      Py_INCREF(dst_dtype);
      PyObject* a =
          api.PyArray_NewFromDescr_(api.PyArray_Type_, dst_dtype, static_cast<int>(src.ndim()),
                                    src.shape(), nullptr, nullptr, 0, nullptr);
      if (!a) throw py::error_already_set();
      y = py::reinterpret_steal<py::array>(a);
    } else {
      // Keeps x's memory order, like astype's default 'K'.
      y = py::handle(g_fast.empty_like)(x, py::handle(dst_dtype));
    }
  } else {
    if (Py_TYPE(out.ptr()) != ndarray || dtype_of(out) != dst_dtype) return py::none();
    y = py::reinterpret_borrow<py::array>(out);
    if (y.ndim() != src.ndim() || !y.writeable()) return py::none();
    for (py::ssize_t i = 0; i < src.ndim(); ++i) {
      if (y.shape(i) != src.shape(i)) return py::none();
    }
    if (overlap(src, y)) return py::none();
  }
  const bool under = num::can_underflow(sf, df) && underflow_wanted();
  if (const unsigned flags = run_convert(fn, src, y, sf, df, out.is_none(), under)) {
    py::handle(g_fast.report_flags)(flags);
  }
  return std::move(y);
}

// halfkit.astype and its shorthands as the user calls them: builtins that answer the common call
// (x and, for astype, the dtype, positionally, and at most out= besides) with astype_fast, and
// hand every other call, unchanged, to the Python function they front, which holds the
// semantics, every check and the docstring (functools.update_wrapper copies it here). A Python
// function in front cost 120 of a 16-element call's 300 ns, against numpy's astype at 200.
struct FastFront {
  PyObject_HEAD vectorcallfunc vectorcall;
  PyObject* general;  // the Python function
  PyObject* dtype;    // a shorthand's dtype; null for astype, which takes it as its argument
  PyObject* dict;     // __doc__, __wrapped__, __name__, ...
};

PyObject* fast_front_call(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  const auto* f = reinterpret_cast<const FastFront*>(self);
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  if (nargs == (f->dtype ? 1 : 2) &&
      (nkw == 0 ||
       (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "out") == 0))) {
    try {
      py::object r =
          astype_fast(args[0], f->dtype ? f->dtype : args[1], nkw ? args[nargs] : Py_None);
      if (!r.is_none()) return r.release().ptr();
    } catch (py::error_already_set& e) {
      e.restore();
      return nullptr;
    } catch (const py::builtin_exception& e) {
      e.set_error();
      return nullptr;
    } catch (const std::exception& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
      return nullptr;
    }
  }
  return PyObject_Vectorcall(f->general, args, nargsf, kwnames);
}

void fast_front_dealloc(PyObject* self) {
  auto* f = reinterpret_cast<FastFront*>(self);
  Py_XDECREF(f->general);
  Py_XDECREF(f->dtype);
  Py_XDECREF(f->dict);
  Py_TYPE(self)->tp_free(self);
}

// Pickled by name, as a function is: the object the qualified name finds in its __module__.
PyObject* fast_front_reduce(PyObject* self, PyObject*) {
  return PyObject_GetAttrString(self, "__qualname__");
}

PyObject* fast_front_repr(PyObject* self) {
  return PyObject_Repr(reinterpret_cast<FastFront*>(self)->general);
}

PyMethodDef fast_front_methods[] = {
    {"__reduce__", fast_front_reduce, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef fast_front_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject* fast_front_type() {
  static PyTypeObject t = [] {
    PyTypeObject o{PyVarObject_HEAD_INIT(nullptr, 0)};
    o.tp_name = "halfkit._core.FastFront";
    o.tp_basicsize = sizeof(FastFront);
    o.tp_dealloc = fast_front_dealloc;
    o.tp_vectorcall_offset = offsetof(FastFront, vectorcall);
    o.tp_repr = fast_front_repr;
    o.tp_call = PyVectorcall_Call;
    o.tp_getattro = PyObject_GenericGetAttr;
    o.tp_setattro = PyObject_GenericSetAttr;
    o.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL;
    o.tp_doc = "halfkit's fast front of a conversion function (see __wrapped__)";
    o.tp_methods = fast_front_methods;
    o.tp_getset = fast_front_getset;
    o.tp_dictoffset = offsetof(FastFront, dict);
    return o;
  }();
  static const bool ready = PyType_Ready(&t) == 0;
  if (!ready) throw py::error_already_set();
  return &t;
}

py::object fast_front(const py::function& general, const py::object& dtype) {
  PyTypeObject* type = fast_front_type();
  auto* f = PyObject_New(FastFront, type);
  if (!f) throw py::error_already_set();
  f->vectorcall = fast_front_call;
  f->general = general.inc_ref().ptr();
  f->dtype = dtype.is_none() ? nullptr : dtype.inc_ref().ptr();
  f->dict = nullptr;
  return py::reinterpret_steal<py::object>(reinterpret_cast<PyObject*>(f));
}

// numpy.dot under halfkit.patch_numpy. A builtin, not a Python function, so that the warnings
// of the calls it hands to numpy name the caller's line, as numpy's own do, and not a frame of
// halfkit's: two ndarrays of the float16 or of the bfloat16 dtype object go to the Python
// layer's GEMM route, which returns None where numpy should answer; every other call is
// numpy's own dot. Set once at import, held for the life of the process.
struct DotPatch {
  PyObject* numpy_dot = nullptr;
  PyObject* by_gemm = nullptr;
} g_dot;

py::object patched_dot(py::handle a, py::handle b, py::handle out) {
  if (!g_dot.numpy_dot) throw std::runtime_error("halfkit's numpy.dot was not set up");
  PyTypeObject* ndarray = reinterpret_cast<PyTypeObject*>(py::detail::npy_api::get().PyArray_Type_);
  if (Py_TYPE(a.ptr()) == ndarray && Py_TYPE(b.ptr()) == ndarray) {
    const int f = format_of(dtype_of(a));
    if ((f == num::kF16 || f == num::kBF16) && dtype_of(b) == dtype_of(a)) {
      py::object r = py::handle(g_dot.by_gemm)(a, b, out);
      if (!r.is_none()) return r;
    }
  }
  return py::handle(g_dot.numpy_dot)(a, b, out);
}

void set_fast_path(const std::vector<py::object>& dtypes, const py::object& report_flags) {
  if (dtypes.size() != num::kNumFormats) throw py::value_error("need the four format dtypes");
  for (int f = 0; f < num::kNumFormats; ++f) {
    g_fast.dtype[f] = dtypes[f].inc_ref().ptr();
    g_fast.type[f] = py::object(dtypes[f].attr("type")).release().ptr();
  }
  g_fast.empty_like = py::object(py::module_::import("numpy").attr("empty_like")).release().ptr();
  g_fast.report_flags = report_flags.inc_ref().ptr();
}

// A stack of GEMMs (see gemm_batch), with the GIL released.
void run_matmul(int fmt, const std::string& tier, const char* ap, ptrdiff_t a_rs, ptrdiff_t a_cs,
                const char* bp, ptrdiff_t b_rs, ptrdiff_t b_cs, float* cp, int m, int n, int k,
                const int64_t* ao, const int64_t* bo, size_t batch) {
  const GemmKernel& kern =
      gemm_table(tier.empty() ? active_isa() : tier_from_name(tier)).kernel[fmt];
  SigintStop stop(interruptible(2.0 * m * n * k * static_cast<double>(batch)));
  {
    py::gil_scoped_release nogil;
    gemm_batch(kern, fmt, ap, a_rs, a_cs, ao, bp, b_rs, b_cs, bo, cp, m, n, k, batch);
  }
  raise_if_interrupted(stop);
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
  if (std::max({a.shape(a.ndim() - 2), a.shape(a.ndim() - 1), b.shape(b.ndim() - 1)}) >=
      kMaxGemmDim) {
    throw py::value_error("matmul: matrix dimensions must be below 2^31 - 2^20");
  }
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
  run_matmul(fmt, tier, static_cast<const char*>(a.data()), a.strides(a.ndim() - 2),
             a.strides(a.ndim() - 1), static_cast<const char*>(b.data()), b.strides(b.ndim() - 2),
             b.strides(b.ndim() - 1), c.mutable_data(), m, n, k, a_off.data(), b_off.data(), batch);
}

// The MemoryError for a result that cannot be allocated: numpy's own would name the internal
// byte buffer, not the result.
[[noreturn]] void result_too_large(const std::vector<py::ssize_t>& shape, double bytes) {
  std::string dims;
  for (const py::ssize_t d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  if (shape.size() == 1) dims += ",";
  char size[32];
  std::snprintf(size, sizeof(size), "%.1f GiB", bytes / (1u << 30));
  const std::string what =
      "halfkit.matmul: cannot allocate the float32 result of shape (" + dims + ") (" + size + ")";
  PyErr_SetString(PyExc_MemoryError, what.c_str());
  throw py::error_already_set();
}

// A new C-contiguous float32 array whose data starts on a 64-byte boundary: a view of a byte
// buffer 64 bytes longer. numpy's own large allocations start 16 bytes past one, so every
// 64-byte store of a row of C by the microkernels split two cache lines (float16 inputs, best
// of many calls: 256^3 on two threads 283 -> 316 GFLOP/s, a stack of 64 64^3 products on one
// 146 -> 154).
py::array empty_aligned(const std::vector<py::ssize_t>& shape) {
  size_t count = 1;
  double bytes = sizeof(float);
  bool fits = true;
  for (const py::ssize_t d : shape) {
    bytes *= static_cast<double>(d);
    fits = fits && !__builtin_mul_overflow(count, static_cast<size_t>(d), &count);
  }
  const size_t limit = static_cast<size_t>(PTRDIFF_MAX) / sizeof(float) - 64;
  if (!fits || count > limit) result_too_large(shape, bytes);
  auto raw = py::reinterpret_steal<py::array_t<uint8_t>>(py::handle());
  try {
    raw = py::array_t<uint8_t>(static_cast<py::ssize_t>(count * sizeof(float) + 64));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_MemoryError)) throw;
    result_too_large(shape, bytes);
  }
  const uintptr_t p = reinterpret_cast<uintptr_t>(raw.mutable_data());
  return py::array(py::reinterpret_borrow<py::dtype>(g_fast.dtype[num::kF32]), shape,
                   std::vector<py::ssize_t>(), reinterpret_cast<void*>((p + 63) & ~uintptr_t{63}),
                   raw);
}

// halfkit.matmul for numpy operands (not both 1-D), checked here in one pass (the
// general Python path costs 10-17 us a call, more than a 64^3 product): a and b exactly
// ndarrays, both float16 or both bfloat16, with even strides, matching inner dimensions and
// batch dimensions that broadcast, and out None or exactly a writeable, C-contiguous float32
// ndarray of the result's shape sharing no memory with them. Returns the result, or None for
// the general path (which also reports every error).
py::object matmul_fast(py::handle a, py::handle b, py::handle out) {
  PyTypeObject* ndarray = reinterpret_cast<PyTypeObject*>(py::detail::npy_api::get().PyArray_Type_);
  if (Py_TYPE(a.ptr()) != ndarray || Py_TYPE(b.ptr()) != ndarray) return py::none();
  const int fmt = format_of(dtype_of(a));
  if ((fmt != num::kF16 && fmt != num::kBF16) || dtype_of(b) != dtype_of(a)) return py::none();
  const auto x = py::reinterpret_borrow<py::array>(a);
  const auto w = py::reinterpret_borrow<py::array>(b);
  const int xd = static_cast<int>(x.ndim()), wd = static_cast<int>(w.ndim());
  // A 1-D operand is one row of A (or one column of B), as np.matmul promotes it; its
  // dimension is then left out of the result. Two 1-D operands (a 0-d result) go the general way.
  if (xd < 1 || wd < 1 || xd + wd < 3) return py::none();
  const bool x1 = xd == 1, w1 = wd == 1;
  if (x.shape(xd - 1) != w.shape(w1 ? 0 : wd - 2)) return py::none();
  for (const py::array* v : {&x, &w}) {
    for (py::ssize_t i = 0; i < v->ndim(); ++i) {
      if (v->strides(i) % 2) return py::none();
    }
  }
  const py::ssize_t m = x1 ? 1 : x.shape(xd - 2), k = x.shape(xd - 1), n = w1 ? 1 : w.shape(wd - 1);
  if (std::max({m, k, n}) >= kMaxGemmDim) return py::none();
  const py::ssize_t x_rs = x1 ? 0 : x.strides(xd - 2), x_cs = x.strides(xd - 1);
  const py::ssize_t w_rs = w.strides(w1 ? 0 : wd - 2), w_cs = w1 ? 0 : w.strides(wd - 1);
  // Batch axes aligned from the right, as numpy broadcasts them; a missing or length-1 axis
  // repeats its one matrix (stride 0).
  const int xb = x1 ? 0 : xd - 2, wb = w1 ? 0 : wd - 2;
  const int nb = std::max(xb, wb);
  std::vector<py::ssize_t> shape(nb), xs(nb), ws(nb);
  size_t count = 1;
  for (int i = 0; i < nb; ++i) {
    const int ix = i - (nb - xb), iw = i - (nb - wb);
    const py::ssize_t dx = ix >= 0 ? x.shape(ix) : 1, dw = iw >= 0 ? w.shape(iw) : 1;
    if (dx != dw && dx != 1 && dw != 1) return py::none();
    shape[i] = dx == 1 ? dw : dx;
    xs[i] = dx == 1 ? 0 : x.strides(ix);
    ws[i] = dw == 1 ? 0 : w.strides(iw);
    count *= static_cast<size_t>(shape[i]);
  }
  // The result's shape (batch, then m and n unless promoted from 1-D): C order, so its memory
  // is that of the (count, m, n) stack the kernels write either way.
  std::vector<py::ssize_t> res(shape);
  if (!x1) res.push_back(m);
  if (!w1) res.push_back(n);
  py::array c = no_array();
  if (out.is_none()) {
    c = empty_aligned(res);
  } else {
    if (Py_TYPE(out.ptr()) != ndarray || dtype_of(out) != g_fast.dtype[num::kF32]) {
      return py::none();
    }
    c = py::reinterpret_borrow<py::array>(out);
    if (c.ndim() != static_cast<py::ssize_t>(res.size()) || !c.writeable() ||
        !(c.flags() & py::array::c_style) || overlap(c, x) || overlap(c, w)) {
      return py::none();
    }
    for (size_t i = 0; i < res.size(); ++i) {
      if (c.shape(static_cast<py::ssize_t>(i)) != res[i]) return py::none();
    }
  }
  // Byte offsets of each product's operands, batch index in row-major order.
  std::vector<int64_t> xo(std::max<size_t>(count, 1)), wo(xo.size());
  std::vector<py::ssize_t> idx(nb);
  int64_t ox = 0, ow = 0;
  for (size_t t = 0; t < count; ++t) {
    xo[t] = ox;
    wo[t] = ow;
    for (int i = nb - 1; i >= 0; --i) {
      ox += xs[i];
      ow += ws[i];
      if (++idx[i] < shape[i]) break;
      ox -= xs[i] * shape[i];
      ow -= ws[i] * shape[i];
      idx[i] = 0;
    }
  }
  run_matmul(fmt, std::string(), static_cast<const char*>(x.data()), x_rs, x_cs,
             static_cast<const char*>(w.data()), w_rs, w_cs, static_cast<float*>(c.mutable_data()),
             static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), xo.data(), wo.data(),
             count);
  return std::move(c);
}

// Where a block of a larger C-order array lies in it, for stochastic rounding, which keys each
// element by its index in the whole array: dask runs a kernel per chunk, and a chunk's C order
// is the whole array's only along stretches (runs) where the chunk spans every later axis.
// Parsed from the Python layer's (base, run, extents..., strides...) tuple; () is the identity.
struct IndexMap {
  uint64_t base = 0;                     // the block's first element's index in the whole array
  size_t run = SIZE_MAX;                 // elements per run
  std::vector<uint64_t> extents, steps;  // the axes before the run, and their strides (elements)

  explicit IndexMap(const py::tuple& t) {
    if (t.empty()) return;
    const size_t outer = (t.size() - 2) / 2;
    if (t.size() < 2 || t.size() != 2 + 2 * outer) {
      throw py::value_error("index: (base, run, extents..., strides...)");
    }
    base = t[0].cast<uint64_t>();
    run = t[1].cast<size_t>();
    if (run == 0) throw py::value_error("index: the run must have at least one element");
    for (size_t k = 0; k < outer; ++k) {
      extents.push_back(t[2 + k].cast<uint64_t>());
      steps.push_back(t[2 + outer + k].cast<uint64_t>());
      if (extents.back() == 0) throw py::value_error("index: an extent of 0");
    }
  }

  // The whole array's index of the block's element `local`.
  uint64_t at(size_t local) const {
    if (run == SIZE_MAX) return local;
    uint64_t r = local / run, index = base + local % run;
    for (size_t k = extents.size(); k-- > 0;) {
      index += (r % extents[k]) * steps[k];
      r /= extents[k];
    }
    return index;
  }

  // for_blocks, with each block cut where a run ends: fn(first, len, index of first).
  template <class Fn>
  void for_runs(size_t n, const Fn& fn) const {
    for_blocks(n, [&](size_t first, size_t len) {
      while (len > 0) {
        const size_t piece = run == SIZE_MAX ? len : std::min(len, run - first % run);
        fn(first, piece, at(first));
        first += piece;
        len -= piece;
      }
    });
  }
};

// A C-contiguous array as the round, fixed-point and storage kernels may access it: they read
// and write elements as integers of the element's size, which memory not aligned to that size
// does not allow (np.frombuffer at an odd offset, some deserialised buffers; UBSan reports it,
// and a vectorised loop may assume it). Such an array is replaced by an aligned copy: of its
// contents for an input; for an output, one that finish() copies back.
class Aligned {
 public:
  Aligned(const py::array& a, bool output) : array_(a) {
    if (reinterpret_cast<uintptr_t>(a.data()) % static_cast<uintptr_t>(a.itemsize()) == 0) return;
    array_ = py::array(a.dtype(), std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
    if (output) {
      target_ = a;  // py::array() is an empty array, not a null handle: hence the optional
    } else {
      memcpy(array_.mutable_data(), a.data(), static_cast<size_t>(a.nbytes()));
    }
  }
  const char* data() const { return static_cast<const char*>(array_.data()); }
  char* mutable_data() { return static_cast<char*>(array_.mutable_data()); }
  void finish() {
    if (target_) {
      memcpy(target_->mutable_data(), array_.data(), static_cast<size_t>(array_.nbytes()));
    }
  }

 private:
  py::array array_;
  std::optional<py::array> target_;
};

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
        py::arg("fresh_dst") = false, py::arg("underflow") = py::none(),
        "Convert src into dst (same shape); returns the flags raised (1 overflow, 2 underflow, "
        "4 invalid), or -1 (nothing written) when check_overlap is set and the arrays overlap. "
        "fresh_dst: dst was just allocated and not yet written. underflow: look for it "
        "(None: when np.errstate asks).");
  m.def("astype_fast", &astype_fast, py::arg("x"), py::arg("dtype"), py::arg("out"),
        "halfkit.astype's fast path: the result, or None where the Python layer must decide.");
  m.def("fast_front", &fast_front, py::arg("general"), py::arg("dtype"),
        "A builtin that answers general's common calls (x, dtype or a fixed dtype, out=) in C++ "
        "and hands it every other call.");
  m.def("set_fast_path", &set_fast_path, py::arg("dtypes"), py::arg("report_flags"),
        "The four format dtypes (float16, bfloat16, float32, float64) and the function "
        "astype_fast hands the flags a conversion raised.");
  m.def("matmul_fast", &matmul_fast, py::arg("a"), py::arg("b"), py::arg("out"),
        "halfkit.matmul's fast path for numpy operands, not both 1-D: the result, "
        "or None where the Python layer must decide.");
  m.def("empty_aligned", &empty_aligned, py::arg("shape"),
        "A new C-contiguous float32 array whose data starts on a 64-byte boundary (a view of a "
        "byte buffer).");
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("a_offsets"),
        py::arg("b_offsets"), py::arg("format"), py::arg("tier") = std::string(),
        "Batched 16-bit GEMM with float32 accumulation into the C-contiguous float32 array c.");
  m.def(
      "numpy_patch",
      [](bool on, int bf16_type) {
        if (const char* err = numpy_patch_init()) throw std::runtime_error(err);
        if (const char* err = numpy_patch_f16(on)) throw std::runtime_error(err);
        const char* note = numpy_patch_bf16(bf16_type, on);
        return std::string(note ? note : "");
      },
      py::arg("on"), py::arg("bfloat16_type"),
      "Swap halfkit's GEMM into numpy.matmul for float16 and bfloat16 (on) or numpy's own "
      "loops back (off); returns why bfloat16 was left alone, or ''.");
  m.def(
      "numpy_dot_finish",
      [](const py::array& a, const py::array& b, py::array_t<float>& c, py::array& out, int fmt) {
        if (fmt != num::kF16 && fmt != num::kBF16)
          throw py::value_error("format must be float16 or bfloat16");
        const py::ssize_t m = c.ndim() == 2 ? c.shape(0) : -1, n = c.ndim() == 2 ? c.shape(1) : -1;
        if (a.ndim() != 2 || b.ndim() != 2 || a.itemsize() != 2 || b.itemsize() != 2 ||
            out.itemsize() != 2 || a.shape(0) != m || b.shape(1) != n || a.shape(1) != b.shape(0) ||
            out.size() != m * n || !(c.flags() & py::array::c_style) ||
            !(out.flags() & py::array::c_style) || !c.writeable() || !out.writeable()) {
          throw py::value_error(
              "numpy_dot_finish: a (m, k) and b (k, n) 16-bit, c (m, n) "
              "float32 and out of m * n 16-bit elements, both C-contiguous");
        }
        const bool under = underflow_wanted();
        py::gil_scoped_release nogil;
        return numpy_patch_dot_finish(
            static_cast<const char*>(a.data()), a.strides(0), a.strides(1),
            static_cast<const char*>(b.data()), b.strides(0), b.strides(1), c.mutable_data(),
            static_cast<char*>(out.mutable_data()), m, n, a.shape(1), fmt, under);
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("out"), py::arg("format"),
      "np.dot's rounding under patch_numpy: c = a @ b (float32) into out as numpy's dot "
      "rounds it, non-finite elements summed again in numpy's order; returns the flags.");
  m.def("dot", &patched_dot, py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
        "numpy.dot under halfkit.patch_numpy(): two float16 or two bfloat16 arrays are "
        "multiplied by halfkit's GEMM (float32 accumulation, one rounding to their dtype, "
        "numpy's flags); every other call is numpy's own dot.");
  m.def(
      "set_dot_patch",
      [](const py::object& numpy_dot, const py::object& by_gemm) {
        if (g_dot.numpy_dot) return;
        g_dot.numpy_dot = numpy_dot.inc_ref().ptr();
        g_dot.by_gemm = by_gemm.inc_ref().ptr();
      },
      py::arg("numpy_dot"), py::arg("by_gemm"),
      "numpy's own dot and the Python route of two 16-bit arrays, for halfkit's numpy.dot.");
  m.def(
      "round",
      [](const py::array& x, py::array& y, const py::tuple& round_spec, const std::string& tier,
         const py::tuple& index) {
        const py::ssize_t size = x.itemsize();
        if ((size != 4 && size != 8) || y.itemsize() != size || x.size() != y.size() ||
            !(x.flags() & py::array::c_style) || !(y.flags() & py::array::c_style) ||
            !y.writeable()) {
          throw py::value_error("round: x and y C-contiguous arrays of one float type and size");
        }
        const RoundSpec spec = round_spec_from(round_spec);
        const bool reference = tier == "reference";
        const RoundFn fn = reference
                               ? nullptr
                               : convert_table(tier.empty() ? active_isa() : tier_from_name(tier))
                                     .round[size == 8];
        const Aligned xa(x, false);
        Aligned ya(y, true);
        const char* src = xa.data();
        char* dst = ya.mutable_data();
        const IndexMap map(index);
        {
          py::gil_scoped_release nogil;
          map.for_runs(static_cast<size_t>(x.size()), [&](size_t first, size_t len, uint64_t i0) {
            if (reference) {
              round_reference(src + first * size, dst + first * size, len, i0, spec, size == 8);
              return;
            }
            fn(src + first * size, dst + first * size, len, i0, spec);
          });
        }
        ya.finish();
      },
      py::arg("x"), py::arg("y"), py::arg("round_spec"), py::arg("tier") = std::string(),
      py::arg("index") = py::tuple(),
      "halfkit.round's kernel: x (C-contiguous float32 or float64) rounded into y by the "
      "RoundSpec round_spec's fields and seed make (spec_args.h, as the CUDA module's); the "
      "Python layer derives them. tier: "
      "'' (the one in use), a tier's name, or 'reference' (round_one per element). index: "
      "where x lies in a larger array, (base, run, extents..., strides...), for the seed's key.");
  m.def(
      "fixed_point",
      [](const py::array& x, py::array& y, const py::tuple& fixed_spec, uint64_t seed,
         const std::string& tier, const py::tuple& index) {
        const py::ssize_t size = x.itemsize();
        const bool values = y.dtype().kind() == 'f';
        const py::ssize_t out_bytes = y.itemsize();
        if ((size != 4 && size != 8) || (values && out_bytes != size) ||
            (!values && out_bytes != 1 && out_bytes != 2 && out_bytes != 4 && out_bytes != 8) ||
            x.size() != y.size() || !(x.flags() & py::array::c_style) ||
            !(y.flags() & py::array::c_style) || !y.writeable()) {
          throw py::value_error(
              "fixed_point: x C-contiguous float32/float64, y C-contiguous values of x's type "
              "or integer codes");
        }
        const FixedSpec spec =
            fixed_spec_from(fixed_spec, values ? 0 : static_cast<int>(out_bytes), seed);
        const FixedFn fn =
            convert_table(tier.empty() ? active_isa() : tier_from_name(tier)).fixed[size == 8];
        const Aligned xa(x, false);
        Aligned ya(y, true);
        const char* src = xa.data();
        char* dst = ya.mutable_data();
        const size_t step = values ? static_cast<size_t>(size) : static_cast<size_t>(out_bytes);
        const IndexMap map(index);
        std::atomic<unsigned> flags{0};
        {
          py::gil_scoped_release nogil;
          map.for_runs(static_cast<size_t>(x.size()), [&](size_t first, size_t len, uint64_t i0) {
            flags.fetch_or(fn(src + first * size, dst + first * step, len, i0, spec));
          });
        }
        ya.finish();
        return flags.load();
      },
      py::arg("x"), py::arg("y"), py::arg("fixed_spec"), py::arg("seed"),
      py::arg("tier") = std::string(), py::arg("index") = py::tuple(),
      "halfkit.fixed_point's kernel: x (C-contiguous float32 or float64) as the codes (integer "
      "y) or values (y of x's type) of the FixedSpec fixed_spec's fields, y's type and seed "
      "make (spec_args.h); returns the flags (invalid where an element has no code).");
  m.def(
      "encode",
      [](const py::array& x, py::array& codes, const py::tuple& round_spec,
         const py::tuple& encode_spec, const std::string& tier, const py::tuple& index) {
        const py::ssize_t size = x.itemsize();
        if ((size != 4 && size != 8) || codes.itemsize() != 1 || x.size() != codes.size() ||
            !(x.flags() & py::array::c_style) || !(codes.flags() & py::array::c_style) ||
            !codes.writeable()) {
          throw py::value_error("encode: x a C-contiguous float array, codes one byte per element");
        }
        const RoundSpec spec = round_spec_from(round_spec);
        const EncodeSpec enc = encode_spec_from(encode_spec);
        const EncodeFn fn =
            convert_table(tier.empty() ? active_isa() : tier_from_name(tier)).encode[size == 8];
        const Aligned xa(x, false);
        const char* src = xa.data();
        uint8_t* dst = static_cast<uint8_t*>(codes.mutable_data());
        const bool under = size == 8 && underflow_wanted();
        const IndexMap map(index);
        std::atomic<unsigned> flags{0};
        {
          py::gil_scoped_release nogil;
          map.for_runs(static_cast<size_t>(x.size()), [&](size_t first, size_t len, uint64_t i0) {
            flags.fetch_or(fn(src + first * size, dst + first, len, i0, spec, enc));
          });
        }
        return under ? flags.load() : flags.load() & ~unsigned{kFlagUnderflow};
      },
      py::arg("x"), py::arg("codes"), py::arg("round_spec"), py::arg("encode_spec"),
      py::arg("tier") = std::string(), py::arg("index") = py::tuple(),
      "x (C-contiguous float32/float64) rounded by round_spec (mode, then round's fields, then "
      "the seed) and written as the codes of encode_spec (bits, bias, mantissa bits, the NaN "
      "codes by sign, the code of +inf); returns the flags ml_dtypes' cast raises.");
  m.def(
      "decode",
      [](const py::array& codes, py::array& y, const py::array& table, const py::tuple& spec) {
        const py::ssize_t size = y.itemsize();
        if (codes.itemsize() != 1 || (size != 4 && size != 8) || table.itemsize() != size ||
            table.size() != 256 || codes.size() != y.size() ||
            !(codes.flags() & py::array::c_style) || !(y.flags() & py::array::c_style) ||
            !(table.flags() & py::array::c_style) || !y.writeable() || spec.size() != 5) {
          throw py::value_error(
              "decode: one-byte codes, y and a 256-entry table of y's size, a 5-field spec");
        }
        const auto i = [&](int k) { return spec[k].cast<int>(); };
        const DecodeSpec d{i(0), i(1), i(2), i(3), i(4), table.data()};
        const uint8_t* c = static_cast<const uint8_t*>(codes.data());
        Aligned ya(y, true);
        void* out = ya.mutable_data();
        {
          py::gil_scoped_release nogil;
          decode_codes(c, out, static_cast<size_t>(codes.size()), d, static_cast<size_t>(size));
        }
        ya.finish();
      },
      py::arg("codes"), py::arg("y"), py::arg("table"), py::arg("spec"),
      "A storage format's codes as float32 or float64 bits: table[code] for every code, "
      "computed from spec (bits, mantissa bits, bias, the first special magnitude, a special "
      "code) where the code is finite.");
  m.def("underflow_wanted", &underflow_wanted,
        "Whether numpy's errstate asks for underflow reports (under != 'ignore').");
  m.def("numpy_patch_bf16_calls", &numpy_patch_bf16_calls,
        "How many bfloat16 products numpy.matmul ran through halfkit.");
  m.def("isa", [] { return std::string(isa_name(active_isa())); });
  m.def("set_isa", [](const std::string& name) { set_active_isa(tier_from_name(name)); });
  m.def("isa_supported", [] { return tiers(true); });
  m.def("isa_compiled", [] { return tiers(false); });
  m.attr("emulated_bf16") = kEmulatedBf16;
  m.def("cpu_features", [] { return cpu_features().names(); });
  m.attr("avx512bf16_assumed") = cpu_features().avx512bf16_assumed;
  m.attr("avx512bf16_gemm") = vdpbf16ps_gemm(cpu_features()) ? "vdpbf16ps" : "fma";
  m.def(
      "cache_sizes",
      [] {
        const CacheSizes c = cache_sizes();
        py::dict d;
        d["l1d"] = c.l1d;
        d["l2"] = c.l2;
        d["l3"] = c.l3;
        d["l2_shared_by"] = c.l2_shared_by;
        d["l3_shared_by"] = c.l3_shared_by;
        d["source"] = c.source;
        return d;
      },
      "The data cache sizes in effect, in bytes, and where they came from.");
  m.def("set_cache_sizes", &set_cache_sizes, py::arg("l1d"), py::arg("l2"), py::arg("l3"),
        "Override the detected cache sizes (bytes; 0 keeps a level's detected size).");
  m.def(
      "gemm_blocking",
      [](const std::string& tier, int fmt) {
        if (fmt != num::kF16 && fmt != num::kBF16) throw py::value_error("fmt: 0 or 1");
        const GemmKernel& kern =
            gemm_table(tier.empty() ? active_isa() : tier_from_name(tier)).kernel[fmt];
        const GemmBlocking b = gemm_blocking(kern);
        py::dict d;
        d["mr"] = kern.mr;
        d["nr"] = kern.nr;
        d["kc"] = b.kc;
        d["mc"] = b.mc_panels * kern.mr;
        d["nc"] = b.nc;
        d["few_rows"] = b.few_row_panels * kern.mr;
        return d;
      },
      py::arg("tier"), py::arg("fmt"),
      "The GEMM blocking a tier's kernel for fmt (0 float16, 1 bfloat16) uses on these caches.");
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", [](int n) {
    if (n < 1)
      throw py::value_error("the number of threads must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  });
  m.def("cpus_available", &cpus_available);
  g_main_thread =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
#ifdef HALFKIT_SANITIZED
  m.attr("sanitized") = true;
#else
  m.attr("sanitized") = false;
#endif
#ifdef HALFKIT_CUDA_NOTE
  m.attr("cuda_build_note") = HALFKIT_CUDA_NOTE;
#else
  m.attr("cuda_build_note") = "not built";
#endif
  m.attr("parallel_min_elements") = kParallelMinElements;
  m.def("stream_min_bytes", &stream_min_bytes, py::arg("threads"),
        "Destinations larger than this many bytes, converted on threads threads, may be written "
        "around the caches.");
  m.attr("max_gemm_dim") = kMaxGemmDim;
}

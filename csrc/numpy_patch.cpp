// numpy's own matmul on float16 and bfloat16 arrays, run by halfkit's GEMM (halfkit.patch_numpy).
//
// numpy finds a legacy inner loop on every call (legacy_array_method.c asks the ufunc's loop
// selector each time), so swapping the float16 entry with PyUFunc_ReplaceLoopBySignature takes
// effect at once and swapping it back restores numpy exactly; Intel's mkl_umath patches numpy
// the same way. bfloat16 has no matmul loop (numpy casts both operands to float32 and returns
// float32), and a loop added for it is seen only by calls whose dtypes numpy has not yet
// dispatched in this process (its dispatch cache keeps what it chose), so the bfloat16 loop is
// registered once, by the first patch_numpy(), and stays: unpatched, it does what numpy did
// (float32 copies, numpy's own float32 matmul loop, float32 result).
//
// Verified with numpy 2.4.6 and ml_dtypes 0.7.0. The loops run with the GIL released (numpy
// releases it) and know nothing of Python; numpy reads the hardware FP flags after them, so
// the float16 rounding's overflow and underflow are raised there with feraiseexcept, as
// numpy's own float16 matmul raises them.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <fenv.h>
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "common/gemm.h"
#include "common/numerics.h"
#include "convert.h"
#include "dispatch.h"
#include "numpy_patch.h"

namespace halfkit {
namespace {

PyUFuncObject* g_matmul = nullptr;
PyUFuncGenericFunction g_numpy_f16 = nullptr;  // numpy's eee->e loop (kept once seen)
bool g_f16_on = false;
PyUFuncGenericFunction g_numpy_f32 = nullptr;  // numpy's fff->f loop
int g_bf16_type = -1;                          // set once the bfloat16 loop is registered
std::atomic<bool> g_bf16_on{false};
std::atomic<long> g_bf16_calls{0};

// One outer step's operands as numpy hands them to a gufunc loop: dims = (outer, m, k, n),
// steps = (outer strides of a, b, c; a's m and k strides; b's k and n strides; c's m and n).
struct Core {
  npy_intp outer, m, k, n;
  const npy_intp* st;
};

// halfkit's kernels take 16-bit elements at even byte strides and dimensions below
// kMaxGemmDim; numpy may hand anything else (byte-offset views), which numpy's loop then takes.
bool gemm_can_take(const Core& c) {
  for (int i = 0; i < 9; ++i) {
    if (i != 2 && i < 7 && c.st[i] % 2 != 0) return false;
  }
  return c.m < kMaxGemmDim && c.k < kMaxGemmDim && c.n < kMaxGemmDim && c.m > 0 && c.n > 0;
}

// The product of every outer step into a float32 buffer (outer x m x n, C order).
void gemm_all(const Core& c, char** args, int fmt, float* out) {
  std::vector<int64_t> ao(static_cast<size_t>(c.outer)), bo(ao.size());
  for (npy_intp o = 0; o < c.outer; ++o) {
    ao[o] = o * c.st[0];
    bo[o] = o * c.st[1];
  }
  if (c.k == 0) {
    memset(out, 0, sizeof(float) * c.outer * c.m * c.n);
    return;
  }
  const GemmKernel& kern = gemm_table(active_isa()).kernel[fmt];
  gemm_batch(kern, fmt, args[0], c.st[3], c.st[4], ao.data(), args[1], c.st[5], c.st[6], bo.data(),
             out, static_cast<int>(c.m), static_cast<int>(c.n), static_cast<int>(c.k),
             static_cast<size_t>(c.outer));
}

// The float32 results rounded into numpy's float16 output (any strides), raising the FP flags
// numpy's own float16 matmul would.
void store_f16(const Core& c, const float* r, char* dst) {
  const ptrdiff_t shape[3] = {c.outer, c.m, c.n};
  const ptrdiff_t ss[3] = {static_cast<ptrdiff_t>(sizeof(float) * c.m * c.n),
                           static_cast<ptrdiff_t>(sizeof(float) * c.n), sizeof(float)};
  const ptrdiff_t ds[3] = {c.st[2], c.st[7], c.st[8]};
  const ConvertFn fn = convert_table(active_isa()).fn[num::kF32][num::kF16];
  const unsigned flags = convert_nd(fn, reinterpret_cast<const char*>(r), ss, dst, ds, shape, 3,
                                    sizeof(float), 2, false, true);
  if (flags & kFlagOverflow) feraiseexcept(FE_OVERFLOW);
  if (flags & kFlagUnderflow) feraiseexcept(FE_UNDERFLOW);
}

float* alloc_floats(size_t n) { return static_cast<float*>(malloc(sizeof(float) * (n ? n : 1))); }

void f16_loop(char** args, npy_intp const* dims, npy_intp const* steps, void* data) {
  const Core c{dims[0], dims[1], dims[2], dims[3], steps};
  float* r = gemm_can_take(c) ? alloc_floats(static_cast<size_t>(c.outer * c.m * c.n)) : nullptr;
  if (!r) {
    g_numpy_f16(args, dims, steps, data);
    return;
  }
  gemm_all(c, args, num::kF16, r);
  store_f16(c, r, args[2]);
  free(r);
}

// Unpatched (or where halfkit's kernels cannot take the strides): what numpy did before the
// loop existed, float32 copies of both operands and numpy's own float32 matmul loop.
bool bf16_as_numpy(char** args, npy_intp const* dims, npy_intp const* steps, void* data) {
  const Core c{dims[0], dims[1], dims[2], dims[3], steps};
  const size_t na = static_cast<size_t>(c.outer * c.m * c.k);
  const size_t nb = static_cast<size_t>(c.outer * c.k * c.n);
  float* a = alloc_floats(na);
  float* b = alloc_floats(nb);
  if (!a || !b) {
    free(a);
    free(b);
    return false;
  }
  const auto widen = [](const char* src, npy_intp so, npy_intp s0, npy_intp s1, npy_intp outer,
                        npy_intp d0, npy_intp d1, float* dst) {
    for (npy_intp o = 0; o < outer; ++o) {
      for (npy_intp i = 0; i < d0; ++i) {
        for (npy_intp j = 0; j < d1; ++j) {
          uint16_t h;
          memcpy(&h, src + o * so + i * s0 + j * s1, 2);
          const uint32_t u = num::bf16_to_f32(h);
          memcpy(dst++, &u, 4);
        }
      }
    }
  };
  widen(args[0], c.st[0], c.st[3], c.st[4], c.outer, c.m, c.k, a);
  widen(args[1], c.st[1], c.st[5], c.st[6], c.outer, c.k, c.n, b);
  char* f32_args[3] = {reinterpret_cast<char*>(a), reinterpret_cast<char*>(b), args[2]};
  const npy_intp f = sizeof(float);
  const npy_intp f32_steps[9] = {f * c.m * c.k, f * c.k * c.n, steps[2], f * c.k, f, f * c.n, f,
                                 steps[7],      steps[8]};
  g_numpy_f32(f32_args, dims, f32_steps, data);
  free(a);
  free(b);
  return true;
}

void bf16_loop(char** args, npy_intp const* dims, npy_intp const* steps, void* data) {
  const Core c{dims[0], dims[1], dims[2], dims[3], steps};
  if (g_bf16_on.load(std::memory_order_relaxed) && gemm_can_take(c)) {
    g_bf16_calls.fetch_add(1, std::memory_order_relaxed);
    const bool direct =
        steps[8] == sizeof(float) && steps[7] == c.n * steps[8] && steps[2] == c.m * steps[7];
    float* r = direct ? reinterpret_cast<float*>(args[2])
                      : alloc_floats(static_cast<size_t>(c.outer * c.m * c.n));
    if (r) {
      gemm_all(c, args, num::kBF16, r);
      if (!direct) {
        for (npy_intp o = 0; o < c.outer; ++o) {
          for (npy_intp i = 0; i < c.m; ++i) {
            for (npy_intp j = 0; j < c.n; ++j) {
              memcpy(args[2] + o * steps[2] + i * steps[7] + j * steps[8],
                     r + (o * c.m + i) * c.n + j, sizeof(float));
            }
          }
        }
        free(r);
      }
      return;
    }
  }
  if (!bf16_as_numpy(args, dims, steps, data)) feraiseexcept(FE_INVALID);
}

// The loop numpy's matmul has for these three type numbers, or null.
PyUFuncGenericFunction builtin_loop(int t0, int t1, int t2) {
  for (int i = 0; i < g_matmul->ntypes; ++i) {
    const char* t = g_matmul->types + 3 * i;
    if (t[0] == t0 && t[1] == t1 && t[2] == t2) return g_matmul->functions[i];
  }
  return nullptr;
}

}  // namespace

const char* numpy_patch_init() {
  if (g_matmul) return nullptr;
  if (_import_array() < 0 || _import_umath() < 0) return "numpy's C API could not be imported";
  PyObject* np = PyImport_ImportModule("numpy");
  if (!np) return "numpy could not be imported";
  PyObject* mm = PyObject_GetAttrString(np, "matmul");
  Py_DECREF(np);
  if (!mm || !PyObject_TypeCheck(mm, &PyUFunc_Type)) {
    Py_XDECREF(mm);
    return "numpy.matmul is not a ufunc";
  }
  g_matmul = reinterpret_cast<PyUFuncObject*>(mm);  // held for the life of the process
  g_numpy_f32 = builtin_loop(NPY_FLOAT, NPY_FLOAT, NPY_FLOAT);
  if (!g_numpy_f32 || !builtin_loop(NPY_HALF, NPY_HALF, NPY_HALF)) {
    return "numpy.matmul has no float16 or float32 loop to build on";
  }
  return nullptr;
}

// numpy's loop pointer is never cleared: a patched product still running on another thread
// (the GIL is released in loops) may fall back to it after an unpatch.
const char* numpy_patch_f16(bool on) {
  int sig[3] = {NPY_HALF, NPY_HALF, NPY_HALF};
  if (on == g_f16_on) return nullptr;
  PyUFuncGenericFunction prev = nullptr;
  if (PyUFunc_ReplaceLoopBySignature(g_matmul, on ? &f16_loop : g_numpy_f16, sig, &prev) < 0) {
    return "numpy.matmul's float16 loop could not be replaced";
  }
  if (on) g_numpy_f16 = prev;
  g_f16_on = on;
  return nullptr;
}

const char* numpy_patch_bf16(int type_num, bool on) {
  if (g_bf16_type < 0 && on) {
    // A loop another library registered for bfloat16 (a future ml_dtypes) is left alone.
    PyObject* key = PyLong_FromLong(type_num);
    const int has = g_matmul->userloops && key ? PyDict_Contains(g_matmul->userloops, key) : 0;
    Py_XDECREF(key);
    if (has != 0) return "numpy.matmul already has a bfloat16 loop; halfkit leaves it in place";
    int sig[3] = {type_num, type_num, NPY_FLOAT};
    if (PyUFunc_RegisterLoopForType(g_matmul, type_num, &bf16_loop, sig, nullptr) < 0) {
      PyErr_Clear();
      return "numpy refused a bfloat16 matmul loop";
    }
    g_bf16_type = type_num;
  }
  g_bf16_on.store(on && g_bf16_type >= 0, std::memory_order_relaxed);
  return nullptr;
}

long numpy_patch_bf16_calls() { return g_bf16_calls.load(std::memory_order_relaxed); }

// An element the GEMM left infinite or NaN is summed again the way numpy's float16 dot
// (HALF_dot) and ml_dtypes' bfloat16 dot sum it: a float32 product, then a float32 sum, k in
// order. That gives their value (NaN payload included) and their overflow and invalid flags
// exactly. A finite element raised neither, with one exception: float16 products and their
// sums never overflow float32, but bfloat16 sums can, and a sum that passes FLT_MAX in their
// order and cancels back in the GEMM's differs from theirs in value and flags alike.
// This file is built without FMA, so the product's rounding stays apart from the sum's, as in
// their loops; the sum is volatile so that the compiler keeps it between the flag reads.
unsigned numpy_patch_dot_finish(const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const char* b,
                                ptrdiff_t b_rs, ptrdiff_t b_cs, float* c, char* out, ptrdiff_t m,
                                ptrdiff_t n, ptrdiff_t k, int fmt, bool underflow) {
  const auto widen = [fmt](const char* p) {
    uint16_t h;
    memcpy(&h, p, 2);
    const uint32_t u = fmt == num::kF16 ? num::f16_to_f32(h) : num::bf16_to_f32(h);
    float f;
    memcpy(&f, &u, 4);
    return f;
  };
  unsigned flags = 0;
  for (ptrdiff_t i = 0; i < m; ++i) {
    for (ptrdiff_t j = 0; j < n; ++j) {
      float& r = c[i * n + j];
      if (std::isfinite(r)) continue;
      feclearexcept(FE_OVERFLOW | FE_INVALID);
      volatile float acc = 0.0f;
      for (ptrdiff_t p = 0; p < k; ++p) {
        const float prod = widen(a + i * a_rs + p * a_cs) * widen(b + p * b_rs + j * b_cs);
        acc = acc + prod;
      }
      if (fetestexcept(FE_OVERFLOW)) flags |= kFlagOverflow;
      if (fetestexcept(FE_INVALID)) flags |= kFlagInvalid;
      r = acc;
    }
  }
  const ptrdiff_t count = m * n;
  const ptrdiff_t ss = sizeof(float), ds = 2;
  const ConvertFn fn = convert_table(active_isa()).fn[num::kF32][fmt];
  return flags | convert_nd(fn, reinterpret_cast<const char*>(c), &ss, out, &ds, &count, 1,
                            sizeof(float), 2, false, underflow);
}

}  // namespace halfkit

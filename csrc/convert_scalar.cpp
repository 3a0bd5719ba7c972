// The scalar tier: the reference loop of convert_loop.h, nothing else. It runs on any CPU.
#include "common/convert_loop.h"
#include "common/round.h"

namespace halfkit {
namespace {

template <class C>
struct ScalarKernel {
  static unsigned run(const char* src, ptrdiff_t ss, char* dst, ptrdiff_t ds, size_t n, bool stream,
                      bool underflow) {
    const unsigned flags = run_strided<C, &ref_contig_kernel<C>>(src, ss, dst, ds, n, stream);
    return underflow ? flags : flags & ~unsigned{kFlagUnderflow};
  }
};

}  // namespace

void round_reference(const void* x, void* y, size_t n, uint64_t index0, const RoundSpec& s,
                     bool f64) {
  const auto each = [&](auto tag) {
    using T = decltype(tag);
    using U = typename rnd::Src<T>::U;
    const U* xs = static_cast<const U*>(x);
    U* ys = static_cast<U*>(y);
    rnd::with_mode(s.mode, [&](auto mode) {
      for (size_t i = 0; i < n; ++i) {
        ys[i] = rnd::round_one<T, decltype(mode)::value>(xs[i], index0 + i, s);
      }
    });
  };
  if (f64) {
    each(double{});
  } else {
    each(float{});
  }
}

void fill_convert_scalar(ConvertTable& t) {
  fill_table<ScalarKernel>(t);
  fill_round(t);
}

}  // namespace halfkit

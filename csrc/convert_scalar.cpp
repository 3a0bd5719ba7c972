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

void fill_convert_scalar(ConvertTable& t) {
  fill_table<ScalarKernel>(t);
  fill_round(t);
}

}  // namespace halfkit

#include "convert.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "cpu_features.h"
#include "dispatch.h"
#include "threads.h"

namespace halfkit {
namespace {

constexpr int kMaxDims = 64;

struct Dim {
  ptrdiff_t n, ss, ds;
};

// The iteration space after dropping unit dimensions, ordering by destination stride (the
// innermost loop walks the smallest stride) and merging dimensions that are contiguous with
// each other. dims[0] is the outermost; dims[nd - 1] the run handed to the kernel.
struct Space {
  Dim dims[kMaxDims];
  int nd = 0;
  size_t total = 1;
};

Space simplify(const ptrdiff_t* ss, const ptrdiff_t* ds, const ptrdiff_t* shape, int ndim,
               size_t src_size, size_t dst_size) {
  Space sp;
  for (int i = 0; i < ndim; ++i) {
    sp.total *= static_cast<size_t>(shape[i]);
    if (shape[i] != 1) sp.dims[sp.nd++] = {shape[i], ss[i], ds[i]};
  }
  // A stable insertion sort: std::stable_sort allocated a buffer on every call, a tenth of the
  // time of a 16-element conversion, for the one to three dimensions arrays usually have.
  for (int i = 1; i < sp.nd; ++i) {
    const Dim d = sp.dims[i];
    int j = i;
    for (; j > 0 && std::llabs(sp.dims[j - 1].ds) < std::llabs(d.ds); --j)
      sp.dims[j] = sp.dims[j - 1];
    sp.dims[j] = d;
  }
  int w = 0;
  for (int i = 0; i < sp.nd; ++i) {
    if (w > 0) {
      Dim& prev = sp.dims[w - 1];
      const Dim& cur = sp.dims[i];
      if (prev.ss == cur.ss * cur.n && prev.ds == cur.ds * cur.n) {
        prev = {prev.n * cur.n, cur.ss, cur.ds};
        continue;
      }
    }
    sp.dims[w++] = sp.dims[i];
  }
  sp.nd = w;
  if (sp.nd == 0) {
    sp.dims[0] = {1, static_cast<ptrdiff_t>(src_size), static_cast<ptrdiff_t>(dst_size)};
    sp.nd = 1;
  }
  return sp;
}

// Converts flat elements [begin, end) of the space (row-major over sp.dims).
unsigned walk(ConvertFn fn, const Space& sp, const char* src, char* dst, size_t begin, size_t end,
              bool stream, bool underflow) {
  const Dim& in = sp.dims[sp.nd - 1];
  const size_t run = static_cast<size_t>(in.n);
  ptrdiff_t idx[kMaxDims] = {};
  size_t outer = begin / run;
  size_t j = begin % run;
  ptrdiff_t so = 0, doff = 0;
  for (int k = sp.nd - 2; k >= 0; --k) {
    idx[k] = static_cast<ptrdiff_t>(outer % static_cast<size_t>(sp.dims[k].n));
    outer /= static_cast<size_t>(sp.dims[k].n);
    so += idx[k] * sp.dims[k].ss;
    doff += idx[k] * sp.dims[k].ds;
  }
  unsigned flags = 0;
  size_t left = end - begin;
  while (left > 0) {
    const size_t len = std::min(run - j, left);
    const ptrdiff_t jj = static_cast<ptrdiff_t>(j);
    flags |=
        fn(src + so + jj * in.ss, in.ss, dst + doff + jj * in.ds, in.ds, len, stream, underflow);
    left -= len;
    j = 0;
    for (int k = sp.nd - 2; k >= 0; --k) {
      so += sp.dims[k].ss;
      doff += sp.dims[k].ds;
      if (++idx[k] < sp.dims[k].n) break;
      so -= idx[k] * sp.dims[k].ss;
      doff -= idx[k] * sp.dims[k].ds;
      idx[k] = 0;
    }
  }
  return flags;
}

}  // namespace

size_t stream_min_bytes(int threads) {
  const CacheSizes c = cache_sizes();
  const size_t t = static_cast<size_t>(threads > 0 ? threads : 1);
  const size_t l2 = 2 * c.l2 * t / static_cast<size_t>(c.l2_shared_by > 0 ? c.l2_shared_by : 1);
  const size_t sharers = static_cast<size_t>(c.l3_shared_by > 0 ? c.l3_shared_by : 1);
  const size_t l3 = c.l3 * std::min(t, sharers) / sharers;
  return std::max(l2, l3);
}

unsigned convert_nd(ConvertFn fn, const char* src, const ptrdiff_t* src_strides, char* dst,
                    const ptrdiff_t* dst_strides, const ptrdiff_t* shape, int ndim, size_t src_size,
                    size_t dst_size, bool may_stream, bool underflow) {
  const Space sp = simplify(src_strides, dst_strides, shape, ndim, src_size, dst_size);
  if (sp.total == 0) return 0;
  const int threads = get_num_threads();
  const bool stream = may_stream && sp.total * dst_size > stream_min_bytes(threads);
  if (sp.total < kParallelMinElements)
    return walk(fn, sp, src, dst, 0, sp.total, stream, underflow);
  // A few tasks per thread let a thread that was descheduled on a noisy machine be helped out;
  // boundaries fall on multiples of 64 elements, so threads writing a contiguous output never
  // share a cache line. Tasks are at most kStopChunk elements, so that a stop request (Ctrl-C)
  // is seen within a few milliseconds, on one thread too.
  constexpr size_t kStopChunk = size_t{1} << 23;
  const size_t tasks = std::max(static_cast<size_t>(threads) * (threads > 1 ? 4 : 1),
                                (sp.total + kStopChunk - 1) / kStopChunk);
  const size_t chunk = ((sp.total + tasks - 1) / tasks + 63) & ~size_t{63};
  const size_t n_chunks = (sp.total + chunk - 1) / chunk;
  std::atomic<unsigned> flags{0};
  parallel_for(n_chunks, [&](size_t t) {
    const size_t b = t * chunk;
    const size_t e = std::min(sp.total, b + chunk);
    const unsigned f = walk(fn, sp, src, dst, b, e, stream, underflow);
    if (f) flags.fetch_or(f, std::memory_order_relaxed);
  });
  return flags.load();
}

void for_blocks(size_t n, const std::function<void(size_t, size_t)>& fn) {
  constexpr size_t kBlock = size_t{1} << 16;
  const size_t blocks = (n + kBlock - 1) / kBlock;
  const auto one = [&](size_t b) {
    const size_t first = b * kBlock;
    fn(first, std::min(kBlock, n - first));
  };
  if (n < kParallelMinElements) {
    for (size_t b = 0; b < blocks; ++b) one(b);
  } else {
    parallel_for(blocks, one);
  }
}

void decode_codes(const uint8_t* codes, void* y, size_t n, const DecodeSpec& d, size_t elem_size) {
  const DecodeFn fn = convert_table(active_isa()).decode[elem_size == 8];
  for_blocks(n, [&](size_t first, size_t len) {
    fn(codes + first, static_cast<char*>(y) + first * elem_size, len, d);
  });
}

}  // namespace halfkit

// The CPU core without Python, for checking another architecture under emulation: every
// conversion on fixed inputs (all 65,536 inputs of each 16-bit source, every 4,099th float32 bit
// pattern, float64 values around every 16-bit value) and GEMMs of a few shapes, through the
// dispatched tier, the n-d driver and the thread pool. It prints one FNV-1a hash per case; the
// same program built for x86-64 without the SIMD tiers (the scalar reference, which the Python
// suite checks against numpy and ml_dtypes) must print the same lines.
//
//   tests/cross/run.sh    (builds it for the host and for aarch64, runs both, compares)
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "common/gemm.h"
#include "common/kernels.h"
#include "convert.h"
#include "dispatch.h"
#include "threads.h"

namespace {

using namespace halfkit;

uint64_t fnv(const void* p, size_t bytes, uint64_t h = 1469598103934665603ull) {
  const unsigned char* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ c[i]) * 1099511628211ull;
  return h;
}

constexpr size_t kSize[num::kNumFormats] = {2, 2, 4, 8};
const char* const kName[num::kNumFormats] = {"float16", "bfloat16", "float32", "float64"};

std::vector<unsigned char> inputs(int fmt) {
  std::vector<unsigned char> v;
  auto put = [&](const void* p, size_t n) {
    v.insert(v.end(), static_cast<const unsigned char*>(p),
             static_cast<const unsigned char*>(p) + n);
  };
  if (kSize[fmt] == 2) {
    for (uint32_t i = 0; i < 65536; ++i) {
      const uint16_t h = static_cast<uint16_t>(i);
      put(&h, 2);
    }
  } else if (fmt == num::kF32) {
    for (uint64_t i = 0; i < (uint64_t{1} << 32); i += 4099) {
      const uint32_t u = static_cast<uint32_t>(i);
      put(&u, 4);
    }
  } else {
    // Every float16 and bfloat16 value as float64 (through the scalar reference), and the
    // neighbours two float64 ulps and half a float32 ulp away: ties, near-ties, double rounding.
    ConvertTable ref;
    fill_convert_scalar(ref);
    for (int src = 0; src < 2; ++src) {
      for (uint32_t i = 0; i < 65536; ++i) {
        const uint16_t h = static_cast<uint16_t>(i);
        double d = 0;
        ref.fn[src][num::kF64](reinterpret_cast<const char*>(&h), 2, reinterpret_cast<char*>(&d), 8,
                               1, false);
        uint64_t b;
        memcpy(&b, &d, 8);
        for (const uint64_t delta : {uint64_t{0}, uint64_t{2}, uint64_t{1} << 28}) {
          const uint64_t up = b + delta, down = b - delta;
          put(&up, 8);
          put(&down, 8);
        }
      }
    }
  }
  return v;
}

}  // namespace

int main() {
  const ConvertTable& table = convert_table(active_isa());
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int s = 0; s < num::kNumFormats; ++s) {
      const std::vector<unsigned char> in = inputs(s);
      const size_t n = in.size() / kSize[s];
      for (int d = 0; d < num::kNumFormats; ++d) {
        const ConvertFn fn = table.fn[s][d];
        if (!fn) continue;
        std::vector<unsigned char> out(n * kSize[d]);
        const ptrdiff_t shape[1] = {static_cast<ptrdiff_t>(n)};
        const ptrdiff_t ss[1] = {static_cast<ptrdiff_t>(kSize[s])};
        const ptrdiff_t ds[1] = {static_cast<ptrdiff_t>(kSize[d])};
        const bool ovf =
            convert_nd(fn, reinterpret_cast<const char*>(in.data()), ss,
                       reinterpret_cast<char*>(out.data()), ds, shape, 1, kSize[s], kSize[d], true);
        printf("convert %s -> %s threads=%d n=%zu overflow=%d hash=%016llx\n", kName[s], kName[d],
               threads, n, ovf ? 1 : 0,
               static_cast<unsigned long long>(fnv(out.data(), out.size())));
      }
    }
    const GemmTable& gemms = gemm_table(active_isa());
    static const int kShapes[][3] = {{1, 300, 70}, {37, 515, 29}, {200, 64, 90}, {700, 600, 50}};
    for (int fmt : {num::kF16, num::kBF16}) {
      for (const auto& mkn : kShapes) {
        const int m = mkn[0], k = mkn[1], n = mkn[2];
        std::vector<uint16_t> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n);
        uint32_t x = 12345;
        for (auto* v : {&a, &b}) {
          for (uint16_t& e : *v) {
            x = x * 1664525u + 1013904223u;
            // Finite values below 4 in magnitude, in either format.
            e = static_cast<uint16_t>(((x >> 16) & (fmt == num::kF16 ? 0x83ff : 0x807f)) |
                                      (fmt == num::kF16 ? 0x3000 : 0x3e00));
          }
        }
        // B as stored (rows contiguous), then transposed (columns contiguous): other packing
        // and GEMV paths.
        std::vector<uint16_t> bt(b.size());
        for (int i = 0; i < k; ++i) {
          for (int j = 0; j < n; ++j) {
            bt[static_cast<size_t>(j) * k + i] = b[static_cast<size_t>(i) * n + j];
          }
        }
        std::vector<float> c(static_cast<size_t>(m) * n), ct(c.size());
        const int64_t zero = 0;
        gemm_batch(gemms.kernel[fmt], fmt, reinterpret_cast<const char*>(a.data()), 2 * k, 2, &zero,
                   reinterpret_cast<const char*>(b.data()), 2 * n, 2, &zero, c.data(), m, n, k, 1);
        gemm_batch(gemms.kernel[fmt], fmt, reinterpret_cast<const char*>(a.data()), 2 * k, 2, &zero,
                   reinterpret_cast<const char*>(bt.data()), 2, 2 * k, &zero, ct.data(), m, n, k,
                   1);
        printf("gemm %s %dx%dx%d threads=%d hash=%016llx transposed-b hash=%016llx\n", kName[fmt],
               m, k, n, threads, static_cast<unsigned long long>(fnv(c.data(), c.size() * 4)),
               static_cast<unsigned long long>(fnv(ct.data(), ct.size() * 4)));
      }
    }
  }
  return 0;
}

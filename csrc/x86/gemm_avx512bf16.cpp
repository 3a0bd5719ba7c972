// AVX-512 BF16 GEMM. bfloat16: VDPBF16PS on pair-interleaved panels (A as broadcast k-pairs, B
// with the two rows of each k-pair interleaved), 14 x 32 tile, 28 independent accumulators
// (the instruction's latency is about 6 cycles at one per cycle), on the CPUs where it pays
// (vdpbf16ps_gemm); elsewhere, and for float16, the AVX-512 FMA kernel.
//
// VDPBF16PS treats subnormal bf16 inputs as zero and flushes subnormal results, whatever MXCSR
// says: a product that loses a subnormal factor is below 2^-126 * |other factor|, far under the
// float32 accumulation error bound of any product that matters.
#include "cpu_features.h"
#include "x86/bf16_instr.h"
#include "x86/gemm_simd.h"
#include "x86/vec_avx512.h"

namespace halfkit {
namespace {

struct GemmBf16Pairs {
  static constexpr int MR = 14;
  static constexpr int NR = 32;

  static uint32_t pair(const char* lo, const char* hi) {
    return load_u16(lo) | (hi ? static_cast<uint32_t>(load_u16(hi)) << 16 : 0u);
  }

  // A row of k-contiguous bf16 is a row of pairs: `n` pairs from pair u on (masked), or pair u
  // alone, whose upper half is zero past the k-th element.
  static __m512 pairs(const char* row, int u, int n) {
    return V512::fload_n(reinterpret_cast<const float*>(row + u * 4), static_cast<size_t>(n));
  }
  static uint32_t pair_at(const char* row, int u, int k) {
    uint32_t v = load_u16(row + u * 4);
    if (2 * u + 1 < k) memcpy(&v, row + u * 4, 4);
    return v;
  }

  // out[0:width] = pairs (lo[j], hi[j]) for j < n (hi null: zeros), zeros after; lo and hi
  // contiguous.
  static void out_pairs(const char* lo, const char* hi, size_t n, uint32_t* out, size_t width) {
    const __m512i l = V512::widen16(V512::load16(lo, n));
    const __m512i h = hi ? V512::widen16(V512::load16(hi, n)) : V512::zero();
    V512::store32(out, V512::or_(l, V512::slli<16>(h)), width);
  }

  static void pack_a(const char* a, ptrdiff_t rs, ptrdiff_t cs, int m, int k, int, void* dst) {
    uint32_t* d = static_cast<uint32_t*>(dst);
    const int kp = (k + 1) / 2;
    if (cs == 2) {
      // The float32 kernel's layout with pairs for floats.
      const auto load = [](const char* row, int u, int n) { return pairs(row, u, n); };
      const auto unit = [k](const char* row, int u) { return pair_at(row, u, k); };
      return pack_rows_transposed<V512, MR>(a, rs, m, kp, k / 2, load, unit, d);
    }
    for (int p = 0; p * MR < m; ++p) {
      const int rows = m - p * MR < MR ? m - p * MR : MR;
      for (int q = 0; q < kp; ++q) {
        uint32_t* out = d + (static_cast<size_t>(p) * kp + q) * MR;
        const char* col = a + p * MR * rs + 2 * q * cs;
        const bool odd_end = 2 * q + 1 >= k;
        if (rs == 2) {
          // Columns contiguous (A = X.T): the rows of a k pair are two masked loads.
          out_pairs(col, odd_end ? nullptr : col + cs, static_cast<size_t>(rows), out, MR);
          continue;
        }
        for (int i = 0; i < rows; ++i) {
          out[i] = pair(col + i * rs, odd_end ? nullptr : col + i * rs + cs);
        }
        for (int i = rows; i < MR; ++i) out[i] = 0;
      }
    }
  }

  static void pack_b(const char* b, ptrdiff_t rs, ptrdiff_t cs, int k, int n, int, void* dst) {
    uint32_t* d = static_cast<uint32_t*>(dst);
    const int kp = (k + 1) / 2;
    if (rs == 2 && cs != 2) {
      // k-contiguous B: each column is a row of pairs, transposed like A.
      const auto load = [](const char* col, int u, int n) { return pairs(col, u, n); };
      const auto unit = [k](const char* col, int u) { return pair_at(col, u, k); };
      return pack_rows_transposed<V512, NR>(b, cs, n, kp, k / 2, load, unit, d);
    }
    for (int p = 0; p * NR < n; ++p) {
      const int cols = n - p * NR < NR ? n - p * NR : NR;
      for (int q = 0; q < kp; ++q) {
        uint32_t* out = d + (static_cast<size_t>(p) * kp + q) * NR;
        const char* r0 = b + 2 * q * rs + p * NR * cs;
        const char* r1 = 2 * q + 1 < k ? r0 + rs : nullptr;
        if (cs == 2) {
          if (cols == NR) {
            GemmF32<V512>::prefetch_next_panel(r0);
            if (r1) GemmF32<V512>::prefetch_next_panel(r1);
          }
          HK_UNROLL for (int v = 0; v < 2; ++v) {
            const int left = cols - 16 * v;
            const size_t cnt = left < 0 ? 0 : left < 16 ? static_cast<size_t>(left) : 16;
            out_pairs(r0 + v * 32, r1 ? r1 + v * 32 : nullptr, cnt, out + v * 16, 16);
          }
        } else {
          for (int j = 0; j < cols; ++j) out[j] = pair(r0 + j * cs, r1 ? r1 + j * cs : nullptr);
          for (int j = cols; j < NR; ++j) out[j] = 0;
        }
      }
    }
  }

  static void micro(int kc, const void* ap, const void* bp, float* c, ptrdiff_t ldc, int m, int n,
                    bool accumulate) {
    const uint32_t* a = static_cast<const uint32_t*>(ap);
    const __m512i* b = static_cast<const __m512i*>(bp);
    __m512 r[MR][2];
    HK_UNROLL for (int i = 0; i < MR; ++i) r[i][0] = r[i][1] = _mm512_setzero_ps();
    GemmF32<V512>::prefetch_tile<MR>(c, ldc, m);
    for (int q = 0; q < kc / 2; ++q) {
      // Same panel sizes in bytes per step as the float32 kernel (untimed here: no AVX512-BF16
      // on the machines this was tuned on).
      GemmF32<V512>::prefetch_ahead(a, b);
      const __m512i b0 = _mm512_loadu_si512(b);
      const __m512i b1 = _mm512_loadu_si512(b + 1);
      HK_UNROLL for (int i = 0; i < MR; ++i) {
        const __m512i av = _mm512_set1_epi32(static_cast<int>(a[i]));
        r[i][0] = dot_bf16_pairs(r[i][0], av, b0);
        r[i][1] = dot_bf16_pairs(r[i][1], av, b1);
      }
      a += MR;
      b += 2;
    }
    GemmF32<V512>::store_tile<MR>(r, c, ldc, m, n, accumulate);
  }
};

}  // namespace

void fill_gemm_avx512bf16(GemmTable& t) {
  t.kernel[num::kF16] = GemmF32<V512>::kernel();
  if (!vdpbf16ps_gemm(cpu_features())) {
    t.kernel[num::kBF16] = GemmF32<V512>::kernel();
    return;
  }
  // GEMV is memory-bound: widening is free there and VDPBF16PS buys nothing.
  t.kernel[num::kBF16] = GemmKernel{
      GemmBf16Pairs::MR,     GemmBf16Pairs::NR,   2, &GemmBf16Pairs::pack_a, &GemmBf16Pairs::pack_b,
      &GemmBf16Pairs::micro, &GemmF32<V512>::gemv};
}

}  // namespace halfkit

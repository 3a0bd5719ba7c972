// GEMM packing and microkernels for the x86 tiers, written once over a vector-traits type V and
// included by each tier's gemm translation unit (compiled with that tier's flags, in its own
// anonymous namespace). float16 and (without AVX-512 BF16) bfloat16 are widened to float32
// while packing and multiplied with FMA; the AVX-512 BF16 tier adds VDPBF16PS on pair-
// interleaved panels (gemm_avx512bf16.cpp).
#pragma once

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "common/gemm.h"
#include "common/numerics.h"

namespace halfkit {
namespace {

#define HK_UNROLL _Pragma("GCC unroll 32")

inline uint16_t load_u16(const char* p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return h;
}

// One 16-bit element as float32 (exact). F16C's scalar conversion is cheaper than the integer
// reference; NaN quieting does not matter inside a product.
inline float widen(const char* p, int fmt) {
  const uint16_t h = load_u16(p);
  if (fmt == num::kBF16) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  return _cvtsh_ss(h);
}

// Rows that are contiguous in k into panels of P rows (A's rows, or B's columns when B is
// stored k-contiguous) with `units` 4-byte units each (a widened float, or a pair of bf16 k
// steps) and zeros below the last row: n <= W units of every row at once (load(row, u, n)
// reads units u..u+n-1, all among the first `whole`, the units wholly inside a row), transposed
// W rows at a time in registers; the units past `whole`, and the last few before it, one at a
// time (unit(row, u)). Element-wise copies had made packing A a fifth of the time of a batch of
// 64^3 products, and packing B = W.T a quarter of that of 128 x 4096 x 4096.
template <class V, int P, class T, class Load, class Unit>
inline void pack_rows_transposed(const char* a, ptrdiff_t rs, int m, int units, int whole,
                                 Load load, Unit unit, T* d) {
  constexpr int W = static_cast<int>(V::N);
  static_assert(sizeof(T) == 4, "4-byte units");
  for (int p = 0; p * P < m; ++p) {
    const int rows = m - p * P < P ? m - p * P : P;
    const char* src = a + p * P * rs;
    T* panel = d + static_cast<size_t>(p) * units * P;
    const auto block = [&](int u, int n) __attribute__((always_inline)) {
      HK_UNROLL for (int g = 0; g < P; g += W) {
        typename V::F blk[W];
        HK_UNROLL for (int i = 0; i < W; ++i) {
          blk[i] = g + i < rows ? load(src + (g + i) * rs, u, n) : V::fzero();
        }
        V::transpose(blk);
        HK_UNROLL for (int q = 0; q < W; ++q) {
          if (q < n) {
            V::fstore_n(reinterpret_cast<float*>(panel + (u + q) * P + g), blk[q],
                        P - g < W ? P - g : W);
          }
        }
      }
    };
    int u = 0;
    for (; u + W <= whole; u += W) block(u, W);
    // A transpose for a few units costs more than copying them one by one.
    if (whole - u >= W / 4) {
      block(u, whole - u);
      u = whole;
    }
    for (; u < units; ++u) {
      for (int i = 0; i < P; ++i) panel[u * P + i] = i < rows ? unit(src + i * rs, u) : T{0};
    }
  }
}

template <class V>
struct GemmF32 {
  static constexpr int NV = 2;  // vectors per row of the register tile
  static constexpr int NR = NV * static_cast<int>(V::N);
  static constexpr int MR = V::N == 16 ? 14 : 6;  // 28 (AVX-512) or 12 (AVX2) accumulators

  static typename V::U32 widen_vec(const char* p, int fmt, int n = static_cast<int>(V::N)) {
    const typename V::U16 h = V::load16(p, static_cast<size_t>(n));
    return fmt == num::kBF16 ? V::template slli<16>(V::widen16(h)) : V::cvt_ph_ps(h);
  }

  static void pack_a(const char* a, ptrdiff_t rs, ptrdiff_t cs, int m, int k, int fmt, void* dst) {
    float* d = static_cast<float*>(dst);
    if (cs == 2) {
      const auto load = [fmt](const char* row, int u, int n) {
        return as_f(widen_vec(row + u * 2, fmt, n));
      };
      const auto unit = [fmt](const char* row, int u) { return widen(row + u * 2, fmt); };
      return pack_rows_transposed<V, MR>(a, rs, m, k, k, load, unit, d);
    }
    for (int p = 0; p * MR < m; ++p) {
      const int rows = m - p * MR < MR ? m - p * MR : MR;
      for (int kk = 0; kk < k; ++kk) {
        float* out = d + (static_cast<size_t>(p) * k + kk) * MR;
        const char* col = a + p * MR * rs + kk * cs;
        if (rs == 2 && V::N == 16) {
          // Columns contiguous (A = X.T): a k step's rows are one masked load. (AVX2 has no
          // masked 16-bit loads; a copy through memory instead made 64^3 to 256^3 products
          // 1.6-1.8x slower than element-wise copies.)
          V::store32(out, widen_vec(col, fmt, rows), MR);
        } else {
          for (int i = 0; i < rows; ++i) out[i] = widen(col + i * rs, fmt);
          for (int i = rows; i < MR; ++i) out[i] = 0.0f;
        }
      }
    }
  }

  // Row-contiguous B is packed one panel (NR columns) at a time, down all k rows: each row's
  // slice is a new cache line a whole row stride from the last, which the hardware prefetchers
  // do not follow across pages. Asking for the same row's line 256 bytes on (four lines; 4 or 8
  // panels ahead) hides the memory latency (measured: 128 x 4096 x 4096 float16 on one thread
  // spent about 5 ms packing B without it; asking one panel ahead, as first written, left
  // avx512bf16 at 208-213 GFLOP/s and avx2 at 114-117 on Zen 5, four lines ahead 217-223 and
  // 117-121, eight lines ahead 209-216 and 115-116).
  static inline __attribute__((always_inline)) void prefetch_next_panel(const char* row) {
    _mm_prefetch(row + 256, _MM_HINT_T0);
  }

  static void pack_b(const char* b, ptrdiff_t rs, ptrdiff_t cs, int k, int n, int fmt, void* dst) {
    float* d = static_cast<float*>(dst);
    if (rs == 2 && cs != 2) {
      // k-contiguous (x @ W.T with W stored row-major): B's columns are the rows to transpose.
      const auto load = [fmt](const char* col, int u, int cnt) {
        return as_f(widen_vec(col + u * 2, fmt, cnt));
      };
      const auto unit = [fmt](const char* col, int u) { return widen(col + u * 2, fmt); };
      return pack_rows_transposed<V, NR>(b, cs, n, k, k, load, unit, d);
    }
    for (int p = 0; p * NR < n; ++p) {
      const int cols = n - p * NR < NR ? n - p * NR : NR;
      for (int kk = 0; kk < k; ++kk) {
        float* out = d + (static_cast<size_t>(p) * k + kk) * NR;
        const char* row = b + kk * rs + p * NR * cs;
        if (cs == 2 && cols == NR) {
          prefetch_next_panel(row);
          HK_UNROLL for (int v = 0; v < NV; ++v) {
            V::store32(out + v * V::N, widen_vec(row + v * V::N * 2, fmt), V::N);
          }
        } else if (cs == 2 && V::N == 16) {
          // The last, narrower panel: masked loads read only the columns that exist (AVX2 has
          // none for 16-bit elements; copies through memory were slower than element-wise).
          HK_UNROLL for (int v = 0; v < NV; ++v) {
            const int left = cols - v * static_cast<int>(V::N);
            const int cnt = left < 0 ? 0 : left < static_cast<int>(V::N) ? left : V::N;
            V::store32(out + v * V::N, widen_vec(row + v * V::N * 2, fmt, cnt), V::N);
          }
        } else {
          for (int j = 0; j < cols; ++j) out[j] = widen(row + j * cs, fmt);
          for (int j = cols; j < NR; ++j) out[j] = 0.0f;
        }
      }
    }
  }

  // Pulls the C tile into L1 while the k loop runs: with C larger than the caches, the tile's
  // loads and stores at the end otherwise wait on memory once per KC step.
  template <int R>
  static inline __attribute__((always_inline)) void prefetch_tile(const float* c, ptrdiff_t ldc,
                                                                  int m) {
    HK_UNROLL for (int i = 0; i < R; ++i) {
      if (i >= m) break;
      const char* row = reinterpret_cast<const char*>(c + i * ldc);
      _mm_prefetch(row, _MM_HINT_T0);
      _mm_prefetch(row + NR * 4 - 1, _MM_HINT_T0);
    }
  }

  // Requests the panels' lines kAheadSteps packed k steps (8 KiB of B at NR = 32) before the
  // microkernel reaches them. The B panel (64 KiB) does not fit L1, so every call reads A and B
  // from L2, and the hardware prefetchers alone left the FMAs waiting: 4096^3 float16 with 2
  // threads went from 298-315 to 312-332 GFLOP/s, 1024^3 from 299 to 312-322 (32 to 128 steps
  // measured alike). Past a panel's end the requests fall on the next panel, which is the next one
  // used, or on nothing (a prefetch never faults).
  static constexpr int kAheadSteps = 64;
  static inline __attribute__((always_inline)) void prefetch_ahead(const void* a, const void* b) {
    const char* bp = static_cast<const char*>(b) + kAheadSteps * NR * 4;
    HK_UNROLL for (int j = 0; j < NR * 4; j += 64) _mm_prefetch(bp + j, _MM_HINT_T0);
    _mm_prefetch(static_cast<const char*>(a) + kAheadSteps * MR * 4, _MM_HINT_T0);
  }

  // The R x (J vectors) tile r to C (m <= R rows, n <= J * N columns exist).
  template <int R, int J = NV, class Acc>
  static inline __attribute__((always_inline)) void store_tile(Acc& r, float* c, ptrdiff_t ldc,
                                                               int m, int n, bool accumulate) {
    if (m == R && n == J * static_cast<int>(V::N)) {
      HK_UNROLL for (int i = 0; i < R; ++i) {
        HK_UNROLL for (int j = 0; j < J; ++j) {
          float* p = c + i * ldc + j * static_cast<int>(V::N);
          V::fstore(p, accumulate ? V::fadd(r[i][j], V::fload(p)) : r[i][j]);
        }
      }
      return;
    }
    HK_UNROLL for (int i = 0; i < R; ++i) {
      if (i >= m) break;
      HK_UNROLL for (int j = 0; j < J; ++j) {
        const int left = n - j * static_cast<int>(V::N);
        if (left <= 0) break;
        const size_t cnt = left < static_cast<int>(V::N) ? static_cast<size_t>(left) : V::N;
        float* p = c + i * ldc + j * static_cast<int>(V::N);
        V::fstore_n(p, accumulate ? V::fadd(r[i][j], V::fload_n(p, cnt)) : r[i][j], cnt);
      }
    }
  }

  // The first R rows of a panel (packed MR rows apart), m <= R <= MR. Each element still sums
  // its k steps in the same order, so a row computes the same bits whichever R runs it. Kept
  // out of line: inlined side by side, the variants left the full tile one register short, and
  // it spilled a B vector (128 x 4096 x 4096: 127 -> 101 GFLOP/s). J: the vectors of the
  // panel's width that hold columns.
  // kRowsA: A is not a packed panel but R rows of widened floats, kSmallLda apart (see small).
  template <int R, int J, bool kRowsA = false>
  static __attribute__((noinline)) void micro_rows(int kc, const float* a, const float* b, float* c,
                                                   ptrdiff_t ldc, int m, int n, bool accumulate) {
    typename V::F r[R][J];
    HK_UNROLL for (int i = 0; i < R; ++i) {
      HK_UNROLL for (int j = 0; j < J; ++j) r[i][j] = V::fzero();
    }
    prefetch_tile<R>(c, ldc, m);
    // Two k steps an iteration: one loop test and pointer update for two steps' FMAs (avx2 on
    // Zen 5, float16, one thread: 128 x 4096 x 4096 112 -> 115 GFLOP/s, 111 -> 114 in a second
    // round; square products 512-2048 within noise, at the FMA peak either way). The sums keep
    // their order, so the bits do not change.
#pragma GCC unroll 2
    for (int kk = 0; kk < kc; ++kk) {
      if constexpr (!kRowsA) prefetch_ahead(a, b);
      typename V::F bv[J];
      HK_UNROLL for (int j = 0; j < J; ++j) bv[j] = V::fload(b + j * V::N);
      HK_UNROLL for (int i = 0; i < R; ++i) {
        const typename V::F av = V::fbcast(kRowsA ? a + i * kSmallLda : a + i);
        HK_UNROLL for (int j = 0; j < J; ++j) r[i][j] = V::fma(av, bv[j], r[i][j]);
      }
      a += kRowsA ? 1 : MR;
      b += NR;
    }
    store_tile<R, J>(r, c, ldc, m, n, accumulate);
  }

  // The rows of the tile that runs m <= MR rows.
  static constexpr int tile_rows(int m) { return m <= 4 ? 4 : m <= 8 && MR > 8 ? 8 : MR; }

  template <int J, bool kRowsA = false>
  static void micro_cols(int kc, const float* a, const float* b, float* c, ptrdiff_t ldc, int m,
                         int n, bool accumulate) {
    static_assert(tile_rows(MR) == MR && tile_rows(1) == (MR > 4 ? 4 : MR), "tiles 4, 8, MR");
    if (m <= 4 && MR > 4) return micro_rows<4, J, kRowsA>(kc, a, b, c, ldc, m, n, accumulate);
    if constexpr (MR > 8) {
      if (m <= 8) return micro_rows<8, J, kRowsA>(kc, a, b, c, ldc, m, n, accumulate);
    }
    micro_rows<MR, J, kRowsA>(kc, a, b, c, ldc, m, n, accumulate);
  }

  // A short last panel runs only the rows it has, in a tile of 4 or 8 rows: 128 rows, for
  // one, are 9 full panels of 14 and one of 2, which the full tile ran as 14. A panel of at
  // most one vector's columns skips the empty vector (a batch of 16 x 16 x 16 products spent
  // 40% of its time in microkernels doing twice the work).
  static void micro(int kc, const void* ap, const void* bp, float* c, ptrdiff_t ldc, int m, int n,
                    bool accumulate) {
    const float* a = static_cast<const float*>(ap);
    const float* b = static_cast<const float*>(bp);
    if (n <= static_cast<int>(V::N)) return micro_cols<1>(kc, a, b, c, ldc, m, n, accumulate);
    micro_cols<NV>(kc, a, b, c, ldc, m, n, accumulate);
  }

  // See GemmKernel::small. B is packed whole into panels, of which a row-contiguous B fills only
  // the vectors that hold columns; A's rows are widened a tile at a time into a buffer (row
  // after row, kSmallLda floats apart; the tile's rows past m are zeros) and the microkernel
  // broadcasts from them. For a stack of 16 x 16 x 16 products, transposing A into panels had been
  // a fifth of the time and packing B another tenth. With one vector of columns, tiles of 8 rows:
  // 14 rows take 7 cycles a k step, 8 rows 4 (the FMA latency), so 16 rows as 8 + 8 beat 14 + 2.
  // A's widened rows lie a fixed kSmallLda floats apart, so the microkernel reaches a row at a
  // constant offset. k floats apart, the 14 rows' offsets took more registers than were left
  // and three were reloaded from the stack every k step (best of many calls, float16, avx512:
  // 1024 x 16^3 61 -> 66 GFLOP/s on one thread and 102 -> 123 on two, 64 x 64^3 137 -> 142).
  static_assert(kSmallLda % 16 == 0, "with work 64-byte aligned, rows of A start on lines");
  static_assert(kSmallLda >= (kSmallMaxK + 15) / 16 * 16, "a row's last vector fits");
  static void small(const char* a, ptrdiff_t a_rs, int m, const char* b, ptrdiff_t b_rs,
                    ptrdiff_t b_cs, int k, int n, int fmt, float* c, ptrdiff_t ldc, float* work) {
    if (fmt == num::kF16) {
      small_fmt<num::kF16>(a, a_rs, m, b, b_rs, b_cs, k, n, c, ldc, work);
    } else {
      small_fmt<num::kBF16>(a, a_rs, m, b, b_rs, b_cs, k, n, c, ldc, work);
    }
  }
  // The format fixed at compile time, and A's rows stored a whole vector at a time (past k, the
  // masked load's zeros; kSmallLda leaves room): the widening of a 4 x 4 x 4 product is a
  // few instructions, where a branch on the format and a masked store, which the
  // microkernel's loads of the same row then wait on, were 5-10% of its time.
  template <int fmt>
  static void small_fmt(const char* a, ptrdiff_t a_rs, int m, const char* b, ptrdiff_t b_rs,
                        ptrdiff_t b_cs, int k, int n, float* c, ptrdiff_t ldc, float* work) {
    constexpr int W = static_cast<int>(V::N);
    const int panels = (n + NR - 1) / NR;
    const int group = n <= W && MR > 8 ? 8 : MR;
    const size_t b_panel = static_cast<size_t>(k) * NR;
    float* bw = work;
    float* aw = bw + b_panel * panels;
    if (b_cs == 2) {
      for (int p = 0; p < panels; ++p) {
        const int cols = n - p * NR < NR ? n - p * NR : NR;
        for (int kk = 0; kk < k; ++kk) {
          for (int v = 0; v * W < cols; ++v) {
            const int cnt = cols - v * W < W ? cols - v * W : W;
            V::store32(bw + p * b_panel + kk * NR + v * W,
                       widen_vec(b + kk * b_rs + (p * NR + v * W) * 2, fmt, cnt), V::N);
          }
        }
      }
    } else {
      pack_b(b, b_rs, b_cs, k, n, fmt, bw);
    }
    for (int i0 = 0; i0 < m; i0 += group) {
      const int rows = m - i0 < group ? m - i0 : group;
      for (int i = 0; i < rows; ++i) {
        const char* src = a + (i0 + i) * a_rs;
        float* dst = aw + static_cast<size_t>(i) * kSmallLda;
        for (int kk = 0; kk < k; kk += W) {
          const int cnt = k - kk < W ? k - kk : W;
          V::store32(dst + kk, widen_vec(src + kk * 2, fmt, cnt), V::N);
        }
      }
      for (int i = rows; i < tile_rows(rows); ++i) {
        memset(aw + static_cast<size_t>(i) * kSmallLda, 0, sizeof(float) * k);
      }
      for (int p = 0; p < panels; ++p) {
        const int cols = n - p * NR < NR ? n - p * NR : NR;
        float* cp = c + i0 * ldc + p * NR;
        if (cols <= W) {
          micro_cols<1, true>(k, aw, bw + p * b_panel, cp, ldc, rows, cols, false);
        } else {
          micro_cols<NV, true>(k, aw, bw + p * b_panel, cp, ldc, rows, cols, false);
        }
      }
    }
  }

  // For each of the M rows i of C (ldc apart): c_i[0:nv] += sum over r < R of ak[i][r] *
  // row[r][0:nv], in order of r. Each vector of B is widened once for all M rows. The next rows
  // of B are requested while these are summed: a column chunk of a row is at most a page, and
  // the hardware prefetchers do not cross into the next row's page on their own.
  template <int R, int M>
  static inline __attribute__((always_inline)) void sweep(const float (*ak)[4],
                                                          const char* const* row, ptrdiff_t b_rs,
                                                          int nv, int fmt, float* c,
                                                          ptrdiff_t ldc) {
    constexpr int W = static_cast<int>(V::N);
    typename V::F av[M][R];
    HK_UNROLL for (int i = 0; i < M; ++i) {
      HK_UNROLL for (int r = 0; r < R; ++r) av[i][r] = V::fbcast(&ak[i][r]);
    }
    for (int j = 0; j < nv; j += W) {
      typename V::F bv[R];
      HK_UNROLL for (int r = 0; r < R; ++r) {
        _mm_prefetch(row[r] + 4 * b_rs + j * 2, _MM_HINT_T0);
        bv[r] = as_f(widen_vec(row[r] + j * 2, fmt));
      }
      HK_UNROLL for (int i = 0; i < M; ++i) {
        typename V::F acc = V::fload(c + i * ldc + j);
        HK_UNROLL for (int r = 0; r < R; ++r) acc = V::fma(av[i][r], bv[r], acc);
        V::fstore(c + i * ldc + j, acc);
      }
    }
  }

  // M rows of A times B with B's rows contiguous: c_i += a_i[kk..kk+3] * B[kk..kk+3, :], four
  // rows of B per sweep, read once for all M rows; c (slices of M rows of C, at most 8 KiB
  // each) in L1. Row by row, B was read m times (float16, one thread: 4 x 1024 x 1024 53 ->
  // 109 GFLOP/s, 4 x 4096 x 4096 39 -> 57, 2 x 4096 x 4096 35 -> 50).
  template <int M>
  static void gemv_rows(const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const char* b,
                        ptrdiff_t b_rs, int k, int n, int fmt, float* c, ptrdiff_t ldc,
                        bool accumulate) {
    constexpr int W = static_cast<int>(V::N);
    if (!accumulate) {
      for (int i = 0; i < M; ++i) {
        for (int j = 0; j < n; ++j) c[i * ldc + j] = 0.0f;
      }
    }
    const int nv = n / W * W;
    for (int kk = 0; kk < k; kk += 4) {
      const int rows = k - kk < 4 ? k - kk : 4;
      float ak[M][4];
      const char* row[4];
      for (int r = 0; r < rows; ++r) {
        row[r] = b + (kk + r) * b_rs;
        for (int i = 0; i < M; ++i) ak[i][r] = widen(a + i * a_rs + (kk + r) * a_cs, fmt);
      }
      // Only the rows that exist: a padding row with a zero weight would turn an inf of B
      // into a NaN.
      switch (rows) {
        case 4:
          sweep<4, M>(ak, row, b_rs, nv, fmt, c, ldc);
          break;
        case 3:
          sweep<3, M>(ak, row, b_rs, nv, fmt, c, ldc);
          break;
        case 2:
          sweep<2, M>(ak, row, b_rs, nv, fmt, c, ldc);
          break;
        default:
          sweep<1, M>(ak, row, b_rs, nv, fmt, c, ldc);
      }
      for (int j = nv; j < n; ++j) {
        for (int i = 0; i < M; ++i) {
          for (int r = 0; r < rows; ++r) c[i * ldc + j] += ak[i][r] * widen(row[r] + j * 2, fmt);
        }
      }
    }
  }

  // R rows of A (widened, ka floats apart) dotted with each column of B: for every (row,
  // column), four vectors of partial sums over runs of 4 W k steps, added pairwise (V::fsum;
  // 64 lanes one by one made 4 x 256 x 256 wait on additions: 10 GFLOP/s), then the k steps
  // left over one by one. Every row uses each loaded column, so B is read once for all R rows
  // (row by row, 4 x 4096 x 4096 read it four times: 44 GFLOP/s).
  template <int R>
  static void dot_rows(const float* aw, ptrdiff_t ka, const char* b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                       int k, int n, int fmt, float* c, ptrdiff_t ldc, bool accumulate) {
    constexpr int W = static_cast<int>(V::N);
    static_assert(4 * W == 2 * NR, "the driver's gemv_dots_transposed counts runs of 2 nr");
    const int kv = b_rs == 2 ? k / (4 * W) * (4 * W) : 0;
    for (int j = 0; j < n; ++j) {
      const char* col = b + j * b_cs;
      typename V::F acc[R][4];
      HK_UNROLL for (int r = 0; r < R; ++r) {
        HK_UNROLL for (int v = 0; v < 4; ++v) acc[r][v] = V::fzero();
      }
      for (int kk = 0; kk < kv; kk += 4 * W) {
        HK_UNROLL for (int v = 0; v < 4; ++v) {
          const typename V::F bv = as_f(widen_vec(col + (kk + v * W) * 2, fmt));
          HK_UNROLL for (int r = 0; r < R; ++r) {
            acc[r][v] = V::fma(V::fload(aw + r * ka + kk + v * W), bv, acc[r][v]);
          }
        }
      }
      HK_UNROLL for (int r = 0; r < R; ++r) {
        float s = V::fsum(V::fadd(V::fadd(acc[r][0], acc[r][1]), V::fadd(acc[r][2], acc[r][3])));
        for (int kk = kv; kk < k; ++kk) s += aw[r * ka + kk] * widen(col + kk * b_rs, fmt);
        float* out = c + r * ldc + j;
        *out = accumulate ? *out + s : s;
      }
    }
  }

  // Calls f(i, std::integral_constant<int, R>()) for groups of R rows, from row i, that cover
  // m rows: 4 at a time, 2 on AVX2, whose 16 registers cannot hold four rows' broadcasts
  // (gemv_rows) or accumulators (dot_rows).
  template <class F>
  static inline __attribute__((always_inline)) void row_groups(int m, const F& f) {
    constexpr int kRows = V::N == 16 ? 4 : 2;
    for (int i = 0; i < m; i += kRows) {
      const int r = m - i < kRows ? m - i : kRows;
      if constexpr (kRows == 4) {
        if (r == 4) {
          f(i, std::integral_constant<int, 4>());
          continue;
        }
        if (r == 3) {
          f(i, std::integral_constant<int, 3>());
          continue;
        }
      }
      if (r == 2) {
        f(i, std::integral_constant<int, 2>());
      } else {
        f(i, std::integral_constant<int, 1>());
      }
    }
  }

  static void gemv(const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs, int m, const char* b,
                   ptrdiff_t b_rs, ptrdiff_t b_cs, int k, int n, int fmt, float* c, ptrdiff_t ldc,
                   bool accumulate, float* work) {
    if (b_cs == 2) {
      row_groups(m, [&](int i, auto rows) {
        gemv_rows<decltype(rows)::value>(a + i * a_rs, a_rs, a_cs, b, b_rs, k, n, fmt, c + i * ldc,
                                         ldc, accumulate);
      });
      return;
    }
    // B's columns are contiguous (x @ W.T with W stored row-major), or neither: dot products,
    // with A widened once (k floats per row, reused for every column) into work, rows on cache
    // lines: in a 16-byte aligned vector, most of the loads of A split lines (4 x 4096 x 4096
    // float16 W.T on one thread: 37 -> 53 GFLOP/s aligned; 4 x 1024^2 60 -> 86).
    const ptrdiff_t ka = static_cast<ptrdiff_t>(GemmKernel::gemv_work_floats(1, k, b_cs));
    float* aw = work;
    for (int i = 0; i < m; ++i) {
      for (int kk = 0; kk < k; ++kk) aw[i * ka + kk] = widen(a + i * a_rs + kk * a_cs, fmt);
    }
    row_groups(m, [&](int i, auto rows) {
      dot_rows<decltype(rows)::value>(aw + i * ka, ka, b, b_rs, b_cs, k, n, fmt, c + i * ldc, ldc,
                                      accumulate);
    });
  }

  static typename V::F as_f(typename V::U32 u) { return V::as_float(u); }

  static GemmKernel kernel() {
    return GemmKernel{MR, NR, 1, &pack_a, &pack_b, &micro, &gemv, &small};
  }
};

}  // namespace
}  // namespace halfkit

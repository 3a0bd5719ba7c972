// The GEMM driver (Goto/BLIS loop nest) over a tier's GemmKernel. Compiled without ISA flags.
//
//   for jc (NC columns of B)
//     for pc (KC steps of k)              B block kc x nc packed once (in parallel), shared
//       for ranges of A's row panels, in parallel (two per thread; also column slices of the
//       B block when there are few rows): A packed MC rows at a time, per task
//         for jr (NR), for ir (MR): microkernel on an MR x NR tile of C
#include "common/gemm.h"

#include <stdint.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "cpu_features.h"
#include "threads.h"

namespace halfkit {
namespace {

// KC packed k steps is not a tuning knob: each block of KC k steps is summed from zero and then
// added to C, so KC fixes the bits of every product deeper than it (docs/numerics.md), and it is
// the same on every machine. A B panel (KC x NR x 4 bytes: 64 KiB at NR = 32, 32 KiB at 16)
// streams from L2; each KC step reads and writes all of C once, so a deeper KC means less C
// traffic (measured: 512 beat 256 by 5-10% at n = 1024-2048 with two threads).
constexpr int kKC = 512;
constexpr size_t kPackedRowBytes = size_t{kKC} * 4;  // one row of A (or column of B), packed

// The rest of the blocking comes from the data caches (cache_sizes(): cpuid, or the override).
//
// MC, A's rows packed per block, stays in L2 with room for the B panel in use and the next:
// at most a third of it, and at most 84 rows. On a core with 2 MiB of L2, at 4096^3 float16 on
// one thread, 6 panels of 14 rows ran at 161-164 GFLOP/s and 12 panels at 152-156 (5-7 panels
// alike; with the microkernel's prefetch, 84 rows against 168: 167-168 against 158-159); at
// KC = 256, 12 panels (the bytes of 6 at KC = 512) were as slow as 12 at 512 (143 against 155).
// Past the cap the row count mattered, not the A block's bytes.
constexpr int kMCRowsMax = 84;
// NC bounds the B block, which every thread reads, to half of L3 (shared with whatever else
// runs), and to 4096 columns (8 MiB), the widest measured.
constexpr int kNCMax = 4096;

}  // namespace

GemmBlocking gemm_blocking(const GemmKernel& kern) {
  const CacheSizes c = cache_sizes();
  GemmBlocking b;
  b.kc = kKC;
  const int mc_rows = static_cast<int>(std::min<size_t>(kMCRowsMax, c.l2 / 3 / kPackedRowBytes));
  b.mc_panels = std::max(1, mc_rows / kern.mr);
  // A whole, for each KC step, in two thirds of L2, and at least 48 panels. On 2 MiB at 14 rows
  // a panel that is the 48 panels (1.3 MiB) measured there. On a Zen 3 core (512 KiB, 6 rows a
  // panel) two thirds would be 28 panels (168 rows), but A read from L3 for each B panel kept
  // up: with 168 rows, 256^3 float16 on two threads ran at 147 GFLOP/s against 174 with 288,
  // 192 x 2048 x 2048 at 161 against 166, 256 x 4096 x 4096 alike (173 and 174).
  b.few_row_panels = std::max(48, static_cast<int>(c.l2 * 2 / 3 / (kern.mr * kPackedRowBytes)));
  const size_t l3 = c.l3 ? c.l3 : c.l2;
  const int nc = static_cast<int>(std::min<size_t>(kNCMax, l3 / 2 / kPackedRowBytes));
  b.nc = std::max(kern.nr, nc / kern.nr * kern.nr);
  return b;
}

namespace {

// Up to this many rows of A, B is streamed unpacked (see GemmKernel::gemv), in blocks of
// kGemvKBlock rows (a multiple of 4: see GemmKernel::gemv for why that keeps the bits).
constexpr int kGemvMaxRows = 4;
// With B's rows contiguous, up to this many: each k block of B is read from memory for the first
// four rows and from L2 for the others, where the packed path widened all of B into panels for
// a single tile of rows (float16, x 4096 x 4096 on one thread: 5 rows 34 -> 55 GFLOP/s, 8 rows
// 54 -> 81; on two, 69 -> 82 and 111 -> 154). At 12 rows the packed path was faster again.
constexpr int kGemvRowMajorMaxRows = 8;
constexpr int kGemvKBlock = 256;
// Against a k-contiguous B, the GEMV widens its rows of A whole (m x k floats per thread); past
// this k the packed path, whose buffers do not grow with k, takes the product instead.
constexpr int kGemvDotMaxK = 1 << 20;
// GemmKernel::small takes products of one KC block whose packed B is at most kSmallMaxB bytes,
// and splits those of kSmallSplitFlops or more over the threads (a batch's products each run
// on one thread).
constexpr size_t kSmallMaxB = 64 << 10;
constexpr double kSmallSplitFlops = 1 << 20;
static_assert(kSmallMaxK <= kKC, "a small product is one KC block, or its bits would differ");

// A 64-byte aligned scratch buffer per thread, grown on demand and reused across calls.
void* scratch(std::vector<char>& buf, size_t bytes) {
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<void*>((p + 63) & ~uintptr_t{63});
}

thread_local std::vector<char> tl_a_buf;
thread_local std::vector<char> tl_b_buf;

// Names one packing of A (one KC step of one product) in gemm_few_rows, so a thread can tell
// whether its own buffer already holds it.
std::atomic<uint64_t> g_a_pack_count{0};
thread_local uint64_t tl_a_pack = 0;

int round_up(int x, int m) { return (x + m - 1) / m * m; }

// A has few enough rows to be packed whole for each KC step and kept in L2, so each packed B
// panel is needed once: every thread packs A for itself, and each task packs its B panels one
// at a time into a buffer that stays in L1 right before using them. Packing the whole B block
// instead wrote it to memory and read it back: at 128 x 4096 x 4096 that was 15% of the time
// on one thread. One shared copy of A, packed in parallel, cost more than packing it twice:
// every thread then read the half the other core had just written, through the other core's
// cache (256^3 with 2 threads spent 19% more time in the microkernel than with one, and 2.5x
// more in pack_a).
void gemm_few_rows(const GemmKernel& kern, int fmt, const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                   const char* b, ptrdiff_t b_rs, ptrdiff_t b_cs, float* c, ptrdiff_t ldc, int m,
                   int n, int k, int threads) {
  const int mr = kern.mr, nr = kern.nr;
  const int m_panels = (m + mr - 1) / mr;
  const int n_panels = (n + nr - 1) / nr;
  const size_t a_panel_max = static_cast<size_t>(round_up(kKC, kern.ku) / kern.ku) * mr * 4;
  // Column slices of whole panels, a few per thread so a delayed thread can be helped.
  const int tasks = threads == 1 ? 1 : std::max(1, std::min(n_panels, 4 * threads));
  const int per = (n_panels + tasks - 1) / tasks;
  for (int pc = 0; pc < k; pc += kKC) {
    const int kc = std::min(kKC, k - pc);
    const int kcp = round_up(kc, kern.ku);
    const size_t a_panel = static_cast<size_t>(kcp / kern.ku) * mr * 4;
    const size_t b_panel = static_cast<size_t>(kcp / kern.ku) * nr * 4;
    // One task (a single panel of B, or any product of a batch, which has one thread) packs A for
    // itself, with no shared counter to bump: a batch of 16^3 products on two threads spent
    // a quarter of the driver's time on that atomic's cache line.
    const bool shared = tasks > 1;
    const uint64_t a_pack = shared ? g_a_pack_count.fetch_add(1, std::memory_order_relaxed) + 1 : 0;
    const bool accumulate = pc > 0;
    const auto task = [&](size_t t) {
      char* ap = static_cast<char*>(scratch(tl_a_buf, a_panel_max * m_panels));
      if (!shared || tl_a_pack != a_pack) {
        for (int p = 0; p < m_panels; ++p) {
          const int i0 = p * mr;
          kern.pack_a(a + i0 * a_rs + pc * a_cs, a_rs, a_cs, std::min(mr, m - i0), kc, fmt,
                      ap + p * a_panel);
        }
        tl_a_pack = a_pack;
      }
      char* bp = static_cast<char*>(scratch(tl_b_buf, b_panel));
      const int p1 = std::min(n_panels, (static_cast<int>(t) + 1) * per);
      for (int pj = static_cast<int>(t) * per; pj < p1; ++pj) {
        const int j = pj * nr;
        const int cols = std::min(nr, n - j);
        kern.pack_b(b + pc * b_rs + j * b_cs, b_rs, b_cs, kc, cols, fmt, bp);
        for (int pi = 0; pi < m_panels; ++pi) {
          kern.micro(kcp, ap + pi * a_panel, bp, c + pi * mr * ldc + j, ldc,
                     std::min(mr, m - pi * mr), cols, accumulate);
        }
      }
    };
    if (shared) {
      parallel_for(static_cast<size_t>(tasks), task);
    } else {
      task(0);
    }
  }
}

// Up to 4 rows against a k-contiguous B: dot products (GemmKernel::gemv), whatever else.
bool gemv_dots(int m, int k, ptrdiff_t b_rs, ptrdiff_t b_cs) {
  return m <= kGemvMaxRows && b_rs == 2 && b_cs != 2 && k <= kGemvDotMaxK;
}

// Up to 4 columns of B against an A whose rows are contiguous (W @ x): the dot products on the
// transposes (see gemm). A tier's dots sum runs of 4 vectors (2 nr k steps) in lanes and fewer
// k steps one by one, which the small path does faster, with the same bits.
bool gemv_dots_transposed(const GemmKernel& kern, int n, int k, ptrdiff_t a_rs, ptrdiff_t a_cs) {
  return gemv_dots(n, k, a_cs, a_rs) && k >= 2 * kern.nr;
}

// Whether gemm runs a product (k >= 1) through GemmKernel::small.
bool takes_small(const GemmKernel& kern, int m, int n, int k, ptrdiff_t a_rs, ptrdiff_t a_cs,
                 ptrdiff_t b_rs, ptrdiff_t b_cs) {
  const size_t small_b = static_cast<size_t>(k) * round_up(n, kern.nr) * 4;
  return kern.small != nullptr && !gemv_dots(m, k, b_rs, b_cs) &&
         !gemv_dots_transposed(kern, n, k, a_rs, a_cs) && a_cs == 2 && k <= kSmallMaxK &&
         small_b <= kSmallMaxB && (n <= kern.nr || m > kGemvMaxRows);
}

// A few rows of A against B streamed unpacked (GemmKernel::gemv; see gemm for when): each
// element of B is used m times at most, so packing it would cost as much as the product.
// Tasks are column chunks (multiples of 64 columns, about two per thread). With B's rows
// contiguous, a task walks its columns kGemvKBlock rows at a time (the tier widens each vector
// of B once for all the rows; blocks of 256 and whole columns measured alike).
void gemm_gemv(const GemmKernel& kern, int fmt, const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs,
               const char* b, ptrdiff_t b_rs, ptrdiff_t b_cs, float* c, ptrdiff_t ldc, int m, int n,
               int k, int threads) {
  const int per_thread = ((n + 2 * threads - 1) / (2 * threads) + 63) & ~63;
  const int chunk = std::min(2048, std::max(256, per_thread));
  const int tasks = (n + chunk - 1) / chunk;
  const int kb = b_cs == 2 ? kGemvKBlock : k;
  const size_t work = GemmKernel::gemv_work_floats(m, kb, b_cs) * 4;
  parallel_for(static_cast<size_t>(tasks), [&](size_t t) {
    const int j0 = static_cast<int>(t) * chunk;
    const int cols = std::min(chunk, n - j0);
    float* w = static_cast<float*>(scratch(tl_a_buf, work));
    for (int k0 = 0; k0 < k; k0 += kb) {
      kern.gemv(a + k0 * a_cs, a_rs, a_cs, m, b + k0 * b_rs + j0 * b_cs, b_rs, b_cs,
                std::min(kb, k - k0), cols, fmt, c + j0, ldc, k0 > 0, w);
    }
  });
}

// One GEMM: C (m x n, float32, row stride ldc) = A (m x k) * B (k x n), 16-bit inputs with
// byte strides, split into tasks for `threads` threads (1: a product of a batch, whose tasks
// run on the thread that runs the product).
void gemm(const GemmKernel& kern, const GemmBlocking& blk, int fmt, const char* a, ptrdiff_t a_rs,
          ptrdiff_t a_cs, const char* b, ptrdiff_t b_rs, ptrdiff_t b_cs, float* c, ptrdiff_t ldc,
          int m, int n, int k, int threads) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  const int mr = kern.mr, nr = kern.nr;
  const bool dots = gemv_dots(m, k, b_rs, b_cs);
  if (takes_small(kern, m, n, k, a_rs, a_cs, b_rs, b_cs)) {
    // Tasks of whole tiles of rows, when there are enough rows to share. (A single task is
    // called directly: building the std::function allocated, and with its index divisions
    // that was a fifth of the time of a batch of 4 x 4 x 4 products.)
    const double flops = 2.0 * m * n * k;
    // A 64-byte aligned buffer: in a plain vector (16-byte aligned) the widening's stores and the
    // microkernel's loads split cache lines (float16, avx512, one thread: stacks of 64^3 products
    // 141 -> 156 GFLOP/s aligned, of 32^3 105 -> 124).
    const size_t work = kern.small_work_floats(k, n) * 4;
    if (flops < kSmallSplitFlops || threads == 1) {
      kern.small(a, a_rs, m, b, b_rs, b_cs, k, n, fmt, c, ldc,
                 static_cast<float*>(scratch(tl_b_buf, work)));
      return;
    }
    const int tiles = (m + mr - 1) / mr;
    const int tasks = std::min(tiles, 2 * threads);
    parallel_for(static_cast<size_t>(tasks), [&](size_t t) {
      const int i0 = static_cast<int>(t * tiles / tasks) * mr;
      const int i1 = std::min(m, static_cast<int>((t + 1) * tiles / tasks) * mr);
      kern.small(a + i0 * a_rs, a_rs, i1 - i0, b, b_rs, b_cs, k, n, fmt, c + i0 * ldc, ldc,
                 static_cast<float*>(scratch(tl_b_buf, work)));
    });
    return;
  }
  // With neither B's rows nor its columns contiguous, packing B is cheaper than reading it
  // element by element for each row (1 x 4096 x 4096 from a strided view: 2 GFLOP/s).
  if (dots || (b_cs == 2 && m <= kGemvRowMajorMaxRows)) {
    gemm_gemv(kern, fmt, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc, m, n, k, threads);
    return;
  }
  // Up to 4 columns of B against an A whose rows are contiguous (W @ x): the transposed
  // product C^T = B^T A^T is the dot-product case, run into n rows of a buffer and copied into
  // C's columns. It gives the bits of x @ W.T. The packed path computed whole tiles of 32
  // columns for them (float16, one thread, 4096 x 4096 times a vector: 7.5 -> 1.3 ms; times 4
  // columns 8.5 -> 4.6 ms; 512 x 512 times a vector 98 -> 14 us).
  if (gemv_dots(n, k, a_cs, a_rs)) {
    float* ct = static_cast<float*>(scratch(tl_b_buf, static_cast<size_t>(n) * m * 4));
    gemm_gemv(kern, fmt, b, b_cs, b_rs, a, a_cs, a_rs, ct, m, n, m, k, threads);
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) c[i * ldc + j] = ct[static_cast<size_t>(j) * m + i];
    }
    return;
  }
  const int m_panels = (m + mr - 1) / mr;
  if (m_panels <= blk.few_row_panels) {
    gemm_few_rows(kern, fmt, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc, m, n, k, threads);
    return;
  }
  for (int jc = 0; jc < n; jc += blk.nc) {
    const int nc = std::min(blk.nc, n - jc);
    const int n_panels = (nc + nr - 1) / nr;
    for (int pc = 0; pc < k; pc += kKC) {
      if (stop_requested()) return;
      const int kc = std::min(kKC, k - pc);
      const int kcp = round_up(kc, kern.ku);
      // A packed element is 4 bytes and holds ku k steps (one float, or a bf16 pair).
      const size_t b_panel = static_cast<size_t>(kcp / kern.ku) * nr * 4;
      char* bp = static_cast<char*>(scratch(tl_b_buf, b_panel * n_panels));
      // Pack B in slices of panels, in parallel.
      const int b_tasks = std::max(1, std::min(n_panels, threads * 2));
      const int per = (n_panels + b_tasks - 1) / b_tasks;
      parallel_for(static_cast<size_t>(b_tasks), [&](size_t t) {
        const int p0 = static_cast<int>(t) * per;
        const int p1 = std::min(n_panels, p0 + per);
        if (p0 >= p1) return;
        const int j0 = jc + p0 * nr;
        const int cols = std::min(n, jc + p1 * nr) - j0;
        kern.pack_b(b + pc * b_rs + j0 * b_cs, b_rs, b_cs, kc, cols, fmt, bp + p0 * b_panel);
      });
      // Tasks: equal ranges of A's row panels (two per thread, so a thread delayed on a busy
      // machine can be helped), each walked in equal blocks of at most mc_panels panels (a
      // last block of one panel would sweep the B block for a single tile row); when there are
      // too few panels, column slices of the B block as well.
      const int m_tasks = std::min(m_panels, 2 * threads);
      int n_split = 1;
      while (m_tasks * n_split < 2 * threads && n_split < n_panels) n_split *= 2;
      n_split = std::min(n_split, n_panels);
      const int panels_per_split = (n_panels + n_split - 1) / n_split;
      const bool accumulate = pc > 0;
      const size_t a_panel = static_cast<size_t>(kcp / kern.ku) * mr * 4;
      const int mc_panels = blk.mc_panels;
      parallel_for(static_cast<size_t>(m_tasks) * n_split, [&](size_t t) {
        const int mt = static_cast<int>(t) / n_split;
        const int js = static_cast<int>(t) % n_split;
        const int pj0 = js * panels_per_split;
        const int pj1 = std::min(n_panels, pj0 + panels_per_split);
        const int pi_begin = static_cast<int>(static_cast<long>(mt) * m_panels / m_tasks);
        const int pi_end = static_cast<int>(static_cast<long>(mt + 1) * m_panels / m_tasks);
        const int blocks = (pi_end - pi_begin + mc_panels - 1) / mc_panels;
        char* ap = static_cast<char*>(scratch(tl_a_buf, a_panel * mc_panels));
        const long span = pi_end - pi_begin;
        for (int bi = 0; bi < blocks; ++bi) {
          const int pi = pi_begin + static_cast<int>(bi * span / blocks);
          const int pi_next = pi_begin + static_cast<int>((bi + 1) * span / blocks);
          const int i0 = pi * mr;
          const int rows = std::min((pi_next - pi) * mr, m - i0);
          kern.pack_a(a + i0 * a_rs + pc * a_cs, a_rs, a_cs, rows, kc, fmt, ap);
          for (int pj = pj0; pj < pj1; ++pj) {
            const int j = jc + pj * nr;
            const int cols = std::min(nr, n - j);
            for (int ir = 0; ir < rows; ir += mr) {
              kern.micro(kcp, ap + (ir / mr) * a_panel, bp + pj * b_panel, c + (i0 + ir) * ldc + j,
                         ldc, std::min(mr, rows - ir), cols, accumulate);
            }
          }
        }
      });
    }
  }
}

}  // namespace

void gemm_batch(const GemmKernel& kern, int fmt, const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                const int64_t* a_off, const char* b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                const int64_t* b_off, float* c, int m, int n, int k, size_t batch) {
  const int threads = get_num_threads();
  const GemmBlocking blk = gemm_blocking(kern);
  const size_t mn = static_cast<size_t>(m) * n;
  // Enough products to keep every thread busy, or small ones: tasks of whole products, each
  // run on one thread, with no synchronisation inside a product. Otherwise one after another,
  // each split over the pool. (16 x 128^3 with two threads: 114 GFLOP/s when each product was
  // split, the same as one thread.) A task takes a contiguous run of products, at most 8 runs
  // per thread: one product per task made a batch of 1024 16^3 products slower on two threads
  // than on one (27-30 against 43 GFLOP/s; each task bumps the pool's shared counters, whose
  // cache lines then bounce between the cores). A product of a task is told it has one thread:
  // split into tasks of its own, which run one after another on that thread, it packed B once
  // per task (a batch of 64 128x64x128 products with two threads: 257 -> 196-214 GFLOP/s).
  const double flops = 2.0 * m * n * k;
  if (batch >= 2 * static_cast<size_t>(threads) || (batch > 1 && flops < 4e6)) {
    const size_t tasks = std::min(batch, 8 * static_cast<size_t>(threads));
    // Products that take the small path are run by it directly, with one workspace per task:
    // gemm's checks and buffer lookup for each product were a fifth of the time of a 4^3 one
    // (float16 stacks on one thread: 4^3 3.0 -> 3.8 GFLOP/s, 8^3 16.8 -> 19.6, 16^3 72 -> 77).
    const bool small =
        m > 0 && n > 0 && k > 0 && takes_small(kern, m, n, k, a_rs, a_cs, b_rs, b_cs);
    parallel_for(tasks, [&](size_t t) {
      const size_t i0 = t * batch / tasks, i1 = (t + 1) * batch / tasks;
      if (small) {
        float* w = static_cast<float*>(scratch(tl_b_buf, kern.small_work_floats(k, n) * 4));
        for (size_t i = i0; i < i1 && !stop_requested(); ++i) {
          kern.small(a + a_off[i], a_rs, m, b + b_off[i], b_rs, b_cs, k, n, fmt, c + i * mn, n, w);
        }
        return;
      }
      for (size_t i = i0; i < i1 && !stop_requested(); ++i) {
        gemm(kern, blk, fmt, a + a_off[i], a_rs, a_cs, b + b_off[i], b_rs, b_cs, c + i * mn, n, m,
             n, k, 1);
      }
    });
    return;
  }
  for (size_t i = 0; i < batch && !stop_requested(); ++i) {
    gemm(kern, blk, fmt, a + a_off[i], a_rs, a_cs, b + b_off[i], b_rs, b_cs, c + i * mn, n, m, n, k,
         threads);
  }
}

}  // namespace halfkit

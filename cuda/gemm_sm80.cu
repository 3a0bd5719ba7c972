// Tensor-core GEMM for sm_80 and later: mma.sync m16n8k16 (bf16 or f16 in, f32 accumulate),
// operands staged through shared memory by cp.async in a multi-stage pipeline and read into
// registers with ldmatrix.
//
// v1: 128x256 block tiles (8 warps of 64x64) for large products, 128x128 (4 warps) when the
//     large tiles would leave multiprocessors idle; k steps of 32, 4 stages. Either operand may
//     be k-contiguous or m/n-contiguous: the tile keeps the global layout and ldmatrix.trans
//     transposes on the way to registers, so transposed views cost nothing. Shared rows are
//     XOR-swizzled in 16-byte chunks so that the 8 rows one ldmatrix reads land in 8 different
//     bank groups. Edges are zero-filled by cp.async's source size; stores are masked.
#include "gemm_common.cuh"

namespace halfkit {
namespace cuda {
namespace {

using gemm_detail::store_c;
using gemm_detail::tile_of;

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Copies `bytes` (0..16) from global memory and zero-fills the rest of the 16-byte chunk.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending));
}

template <bool Trans>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  if constexpr (Trans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
  }
}

template <int In>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1) {
  if constexpr (In == num::kBF16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// A shared-memory tile of Rows rows of Chunks 16-byte chunks. Chunk c of row r is stored at
// c ^ f(r), f chosen so that any 8 consecutive rows put a given chunk in 8 different 16-byte
// bank groups (ldmatrix reads one chunk from each of 8 consecutive rows).
template <int Rows, int Chunks>
struct SmemTile {
  static constexpr int kRows = Rows;
  static constexpr int kChunks = Chunks;
  static constexpr int kBytes = Rows * Chunks * 16;
  static constexpr int kRowsPerPattern = Chunks >= 8 ? 1 : 8 / Chunks;
  static constexpr int kMask = (Chunks >= 8 ? 8 : Chunks) - 1;
  __device__ static __forceinline__ uint32_t offset(int r, int c) {
    return static_cast<uint32_t>((r * Chunks + (c ^ ((r / kRowsPerPattern) & kMask))) * 16);
  }
};

// One operand's block tile: Extent rows of A (or columns of B) by BK steps of k. KMajor: k is
// the operand's unit-stride axis, so shared rows follow the m (or n) index and chunks run along
// k; otherwise shared rows follow k and chunks run along m (or n).
template <int Extent, int BK, bool KMajor>
struct OperandTile {
  using Tile = SmemTile<KMajor ? Extent : BK, (KMajor ? BK : Extent) / 8>;

  // Queues the copy of the tile at (mn0, k0) of an operand with extents (mn_ext, k_ext) and
  // leading (non-unit) stride ld.
  template <int Threads>
  __device__ static __forceinline__ void load(uint32_t dst, const uint16_t* base, int64_t ld,
                                              int64_t mn0, int64_t mn_ext, int64_t k0,
                                              int64_t k_ext, int tid) {
    constexpr int kTotal = Tile::kRows * Tile::kChunks;
    static_assert(kTotal % Threads == 0, "every thread copies the same number of chunks");
#pragma unroll
    for (int i = 0; i < kTotal / Threads; ++i) {
      const int idx = tid + i * Threads;
      const int r = idx / Tile::kChunks;
      const int c = idx % Tile::kChunks;
      int64_t row, col, along, ext;  // row: index along the strided axis; col: along the unit one
      bool live;
      if constexpr (KMajor) {
        row = mn0 + r;
        col = k0 + c * 8;
        live = row < mn_ext;
        ext = k_ext;
      } else {
        row = k0 + r;
        col = mn0 + c * 8;
        live = row < k_ext;
        ext = mn_ext;
      }
      along = ext - col;
      const int bytes = live && along > 0 ? (along >= 8 ? 16 : static_cast<int>(along) * 2) : 0;
      cp_async16(dst + Tile::offset(r, c), bytes ? base + row * ld + col : base, bytes);
    }
  }
};

// BK k steps per stage, Stages stages, Blocks resident blocks per multiprocessor that the
// registers are capped for (bench/micro/sm80_tune.cu times other choices against these).
template <int BM_, int BN_, int WarpsM, int WarpsN, int BK_ = 32, int Stages = 4, int Blocks = 1>
struct Config {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, kStages = Stages, kBlocks = Blocks;
  static constexpr int kWarpsN = WarpsN;
  static constexpr int kThreads = 32 * WarpsM * WarpsN;
  static constexpr int WM = BM / WarpsM, WN = BN / WarpsN;
  static constexpr int MT = WM / 16, NT = WN / 8;  // mma tiles per warp
  static_assert(NT % 2 == 0, "B fragments are loaded two n tiles at a time");
};
using Large = Config<128, 256, 2, 4>;
using Small = Config<128, 128, 2, 2>;

template <class C, bool AK, bool BKm>
constexpr int smem_bytes() {
  return C::kStages * (OperandTile<C::BM, C::BK, AK>::Tile::kBytes +
                       OperandTile<C::BN, C::BK, BKm>::Tile::kBytes);
}

// AK / BKm: A / B is k-contiguous (else m- / n-contiguous).
template <class C, bool AK, bool BKm, int In>
__global__ void __launch_bounds__(C::kThreads, C::kBlocks)
    gemm_mma(GemmArgs g, int64_t tiles_m, int64_t tiles_n) {
  using TA = OperandTile<C::BM, C::BK, AK>;
  using TB = OperandTile<C::BN, C::BK, BKm>;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t smem0 = smem_addr(smem);
  constexpr uint32_t kStageBytes = TA::Tile::kBytes + TB::Tile::kBytes;

  int64_t tm, tn;
  tile_of(blockIdx.x, tiles_m, tiles_n, &tm, &tn);
  const int64_t t = blockIdx.z;
  const uint16_t* a = static_cast<const uint16_t*>(g.a) + (g.a_off ? g.a_off[t] : 0);
  const uint16_t* b = static_cast<const uint16_t*>(g.b) + (g.b_off ? g.b_off[t] : 0);
  const int64_t lda = AK ? g.a_rs : g.a_cs;
  const int64_t ldb = BKm ? g.b_cs : g.b_rs;
  const int64_t m0 = tm * C::BM, n0 = tn * C::BN;

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm0 = (warp / C::kWarpsN) * C::WM;
  const int wn0 = (warp % C::kWarpsN) * C::WN;

  auto load_stage = [&](int stage, int64_t kt) {
    const uint32_t base = smem0 + stage * kStageBytes;
    TA::template load<C::kThreads>(base, a, lda, m0, g.m, kt * C::BK, g.k, tid);
    TB::template load<C::kThreads>(base + TA::Tile::kBytes, b, ldb, n0, g.n, kt * C::BK, g.k, tid);
  };

  float acc[C::MT][C::NT][4];
#pragma unroll
  for (int i = 0; i < C::MT; ++i)
#pragma unroll
    for (int j = 0; j < C::NT; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.0f;

  const int64_t ktiles = (g.k + C::BK - 1) / C::BK;
#pragma unroll
  for (int s = 0; s < C::kStages - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }

  // Lane roles in ldmatrix.x4: lanes 8j..8j+7 give the row addresses of 8x8 matrix j.
  const int lj = lane / 8, li = lane % 8;
  for (int64_t kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<C::kStages - 2>();
    // Also orders every warp's reads of the stage refilled next (last read one step ago).
    __syncthreads();
    const int64_t next = kt + C::kStages - 1;
    if (next < ktiles) load_stage(static_cast<int>(next % C::kStages), next);
    cp_async_commit();

    const uint32_t sa = smem0 + static_cast<uint32_t>(kt % C::kStages) * kStageBytes;
    const uint32_t sb = sa + TA::Tile::kBytes;
#pragma unroll
    for (int ks = 0; ks < C::BK / 16; ++ks) {
      uint32_t af[C::MT][4];
      uint32_t bf[C::NT][2];
#pragma unroll
      for (int i = 0; i < C::MT; ++i) {
        if constexpr (AK) {
          ldmatrix_x4<false>(af[i],
                             sa + TA::Tile::offset(wm0 + i * 16 + lane % 16, ks * 2 + lane / 16));
        } else {
          ldmatrix_x4<true>(af[i], sa + TA::Tile::offset(ks * 16 + li + (lj / 2) * 8,
                                                         (wm0 + i * 16) / 8 + lj % 2));
        }
      }
#pragma unroll
      for (int j = 0; j < C::NT / 2; ++j) {
        uint32_t r[4];
        if constexpr (BKm) {
          ldmatrix_x4<false>(
              r, sb + TB::Tile::offset(wn0 + j * 16 + li + (lj / 2) * 8, ks * 2 + lj % 2));
        } else {
          ldmatrix_x4<true>(
              r, sb + TB::Tile::offset(ks * 16 + li + (lj % 2) * 8, (wn0 + j * 16) / 8 + lj / 2));
        }
        bf[2 * j][0] = r[0];
        bf[2 * j][1] = r[1];
        bf[2 * j + 1][0] = r[2];
        bf[2 * j + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < C::MT; ++i)
#pragma unroll
        for (int j = 0; j < C::NT; ++j) mma_16816<In>(acc[i][j], af[i], bf[j][0], bf[j][1]);
    }
  }
  cp_async_wait<0>();

  // Accumulator layout of m16n8: lane holds rows lane/4 and lane/4 + 8, columns 2 (lane % 4)
  // and the next one.
  const int64_t c_base = t * g.c_bs;
#pragma unroll
  for (int i = 0; i < C::MT; ++i) {
#pragma unroll
    for (int j = 0; j < C::NT; ++j) {
      const int64_t col = n0 + wn0 + j * 8 + 2 * (lane % 4);
      if (col >= g.n) continue;
      const int count = g.n - col >= 2 ? 2 : 1;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t row = m0 + wm0 + i * 16 + lane / 4 + h * 8;
        if (row >= g.m) continue;
        const int64_t off = c_base + row * g.ldc + col;
        store_c(g.c, g.out_format, off, &acc[i][j][2 * h], count);
      }
    }
  }
}

int multiprocessors() {
  int dev = 0, n = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
    cudaGetLastError();
    return 1;
  }
  return n;
}

template <class C, bool AK, bool BKm, int In>
cudaError_t launch(const GemmArgs& g, cudaStream_t stream) {
  constexpr int kSmem = smem_bytes<C, AK, BKm>();
  auto kernel = gemm_mma<C, AK, BKm, In>;
  // Per device and per kernel; cheap enough to repeat on every call.
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  if (e != cudaSuccess) return e;
  const int64_t tiles_m = (g.m + C::BM - 1) / C::BM, tiles_n = (g.n + C::BN - 1) / C::BN;
  const dim3 grid(static_cast<unsigned>(tiles_m * tiles_n), 1, static_cast<unsigned>(g.batch));
  kernel<<<grid, C::kThreads, kSmem, stream>>>(g, tiles_m, tiles_n);
  return cudaGetLastError();
}

template <class C, int In>
cudaError_t launch_layout(const GemmArgs& g, bool a_kmajor, bool b_kmajor, cudaStream_t stream) {
  if (a_kmajor) {
    return b_kmajor ? launch<C, true, true, In>(g, stream) : launch<C, true, false, In>(g, stream);
  }
  return b_kmajor ? launch<C, false, true, In>(g, stream) : launch<C, false, false, In>(g, stream);
}

}  // namespace

cudaError_t gemm_sm80(const GemmArgs& g, bool a_kmajor, bool b_kmajor, cudaStream_t stream) {
  const int64_t large_tiles =
      ((g.m + Large::BM - 1) / Large::BM) * ((g.n + Large::BN - 1) / Large::BN) * g.batch;
  const bool large = large_tiles >= multiprocessors();
  if (g.in_format == num::kBF16) {
    return large ? launch_layout<Large, num::kBF16>(g, a_kmajor, b_kmajor, stream)
                 : launch_layout<Small, num::kBF16>(g, a_kmajor, b_kmajor, stream);
  }
  return large ? launch_layout<Large, num::kF16>(g, a_kmajor, b_kmajor, stream)
               : launch_layout<Small, num::kF16>(g, a_kmajor, b_kmajor, stream);
}

}  // namespace cuda
}  // namespace halfkit

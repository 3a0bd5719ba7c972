// Tensor-core GEMM for sm_90a (H100/H200): wgmma reading both operands from shared memory, TMA
// loads completing on mbarriers, one producer warpgroup and two consumer warpgroups, and a
// persistent grid walking the output tiles.
//
// v1: 128x256 block tiles, k steps of 64, 4 stages (48 KB each). Each consumer warpgroup owns
//     64 rows and issues m64n256k16 four times per stage; the producer's one thread keeps the
//     stages full. Operands stay in their global layout: TMA lays k-contiguous operands out as
//     K-major and m/n-contiguous ones as MN-major 128-byte-swizzled tiles, and the wgmma
//     transpose bits say which. Edges come zero-filled from TMA; stores are masked.
// v2: each consumer keeps kMmaInFlight wgmma groups in flight and releases a stage only once
//     the group reading it has completed.
//     Written without a GPU; on its first run on one (an H100, 2026-11-23) it passed the GPU
//     tests and compute-sanitizer's memcheck, racecheck and synccheck unchanged, and ran at
//     0.85-0.87x cuBLAS at 4096^3 and 0.95-0.96x at 8192^3 (bench/results/gpu_gemm_h100.txt).
#include <cuda.h>
#include <cudaTypedefs.h>

#include "gemm_common.cuh"

namespace halfkit {
namespace cuda {
namespace {

using gemm_detail::store_c;
using gemm_detail::tile_of;

constexpr int kBM = 128, kBN = 256, kBK = 64, kStages = 4;
constexpr int kThreads = 384;  // producer warpgroup, then two consumer warpgroups
constexpr uint32_t kABytes = kBM * kBK * 2, kBBytes = kBN * kBK * 2;
constexpr uint32_t kStageBytes = kABytes + kBBytes;
// One 128-byte-swizzled TMA box: 64 elements (128 bytes) along the unit-stride axis.
constexpr int kBoxInner = 64;
constexpr int kSmem = kStages * kStageBytes + 1024;  // + alignment slack for the swizzle
// Groups of wgmma (one per k step) a consumer leaves running when it moves to the next stage.
// With 0 it waits for each group before waiting on the next stage's barrier, so its tensor-core
// work never overlaps that wait; 1 is what CUTLASS's Hopper mainloops do. 0 is v1 exactly: the
// first thing to try if this kernel fails its GPU tests.
constexpr int kMmaInFlight = 1;
static_assert(kMmaInFlight >= 0 && kMmaInFlight < kStages, "a stage must stay free to fill");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

constexpr uint32_t kMnBlockBytes = kBoxInner * kBK * 2;  // an MN-major box: 64 x 64 elements

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}

__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes));
}

__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "wait_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait_%=;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap* map, int c0, int c1,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, "
      "{%2, %3}], [%4];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}

// Shared-memory matrix descriptor for a 128-byte-swizzled tile (PTX ISA, "Matrix Descriptor
// Format"): start address, leading and stride byte offsets, all in 16-byte units.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) |
         (static_cast<uint64_t>((lbo & 0x3FFFF) >> 4) << 16) |
         (static_cast<uint64_t>((sbo & 0x3FFFF) >> 4) << 32) | (uint64_t{1} << 62);
}

// K-major: rows of 128 bytes, 8-row swizzle atoms 1024 bytes apart; a k16 step moves 32 bytes
// along the row. MN-major: 64-element MN blocks kMnBlockBytes apart, 8-k groups 1024 bytes
// apart; a k16 step moves two groups.
template <bool KMajor>
__device__ __forceinline__ uint64_t operand_desc(uint32_t tile, int k16) {
  if constexpr (KMajor) {
    return smem_desc(tile + k16 * 32, 16, 1024);
  } else {
    return smem_desc(tile + k16 * 2048, kMnBlockBytes, 1024);
  }
}

__device__ __forceinline__ void fence_acc(float (&d)[128]) {
#pragma unroll
  for (int i = 0; i < 128; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

#define HK_WGMMA_ACC                                                                              \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
      "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]),    \
      "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]),  \
      "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]),  \
      "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),  \
      "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]),  \
      "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]),  \
      "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]),  \
      "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),  \
      "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]),  \
      "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]),  \
      "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]),  \
      "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]),  \
      "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]),  \
      "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]),          \
      "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]),         \
      "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]),         \
      "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]),         \
      "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])

#define HK_WGMMA_REGS                                                                   \
  "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22," \
  "%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,"    \
  "%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,"    \
  "%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,"    \
  "%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,"      \
  "%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,"    \
  "%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}"

// d += A B for one m64n256k16 step; TransA / TransB: the operand is MN-major in shared memory.
template <int In, int TransA, int TransB>
__device__ __forceinline__ void wgmma_256(float (&d)[128], uint64_t da, uint64_t db) {
  if constexpr (In == num::kBF16) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %132, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 " HK_WGMMA_REGS
        ", %128, %129, p, 1, 1, %130, %131;\n}\n"
        : HK_WGMMA_ACC
        : "l"(da), "l"(db), "n"(TransA), "n"(TransB), "r"(1));
  } else {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %132, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 " HK_WGMMA_REGS
        ", %128, %129, p, 1, 1, %130, %131;\n}\n"
        : HK_WGMMA_ACC
        : "l"(da), "l"(db), "n"(TransA), "n"(TransB), "r"(1));
  }
}

#undef HK_WGMMA_ACC
#undef HK_WGMMA_REGS

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// AK / BKm: A / B is k-contiguous (K-major), else m- / n-contiguous (MN-major).
template <bool AK, bool BKm, int In>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_wgmma(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
               GemmArgs g, int64_t tiles_m, int64_t tiles_n) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ unsigned char smem_raw[];
  __shared__ __align__(8) uint64_t full[kStages], empty[kStages];
  // 128-byte swizzling repeats every 1024 bytes and the descriptors assume tiles start on
  // that boundary.
  const uint32_t smem0 = (smem_addr(smem_raw) + 1023) & ~1023u;
  const int wg = threadIdx.x / 128;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      mbar_init(smem_addr(&full[s]), 1);
      mbar_init(smem_addr(&empty[s]), 2);  // one arrival per consumer warpgroup
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  }
  __syncthreads();

  const int64_t tiles = tiles_m * tiles_n;
  const int64_t ktiles = (g.k + kBK - 1) / kBK;
  if (wg == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x != 0) return;
    int64_t it = 0;
    for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      int64_t tm, tn;
      tile_of(tile, tiles_m, tiles_n, &tm, &tn);
      const int m0 = static_cast<int>(tm * kBM), n0 = static_cast<int>(tn * kBN);
      for (int64_t kt = 0; kt < ktiles; ++kt, ++it) {
        const int s = static_cast<int>(it % kStages);
        mbar_wait(smem_addr(&empty[s]), static_cast<uint32_t>((it / kStages) & 1) ^ 1);
        const uint32_t bar = smem_addr(&full[s]);
        mbar_expect_tx(bar, kStageBytes);
        const uint32_t sa = smem0 + s * kStageBytes, sb = sa + kABytes;
        const int k0 = static_cast<int>(kt * kBK);
        if constexpr (AK) {
          tma_load_2d(sa, &map_a, k0, m0, bar);
        } else {
          for (int q = 0; q < kBM / kBoxInner; ++q) {
            tma_load_2d(sa + q * kMnBlockBytes, &map_a, m0 + q * kBoxInner, k0, bar);
          }
        }
        if constexpr (BKm) {
          tma_load_2d(sb, &map_b, k0, n0, bar);
        } else {
          for (int q = 0; q < kBN / kBoxInner; ++q) {
            tma_load_2d(sb + q * kMnBlockBytes, &map_b, n0 + q * kBoxInner, k0, bar);
          }
        }
      }
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  const int c = wg - 1;              // this consumer's 64 rows of the block tile
  const int tw = threadIdx.x % 128;  // thread in the warpgroup
  const int row_in = 16 * (tw / 32) + (tw % 32) / 4;
  const int col_in = 2 * (tw % 4);
  float d[128];
  int64_t it = 0;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    int64_t tm, tn;
    tile_of(tile, tiles_m, tiles_n, &tm, &tn);
#pragma unroll
    for (int i = 0; i < 128; ++i) d[i] = 0.0f;
    for (int64_t kt = 0; kt < ktiles; ++kt, ++it) {
      const int s = static_cast<int>(it % kStages);
      mbar_wait(smem_addr(&full[s]), static_cast<uint32_t>((it / kStages) & 1));
      // Each consumer's 64 rows start 64 * 128 bytes (K-major) or one MN box into the A tile.
      const uint32_t sa = smem0 + s * kStageBytes + c * kMnBlockBytes;
      const uint32_t sb = smem0 + s * kStageBytes + kABytes;
      fence_acc(d);
      asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
      for (int k16 = 0; k16 < kBK / 16; ++k16) {
        wgmma_256<In, AK ? 0 : 1, BKm ? 0 : 1>(d, operand_desc<AK>(sa, k16),
                                               operand_desc<BKm>(sb, k16));
      }
      asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
      asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kMmaInFlight) : "memory");
      fence_acc(d);
      // The group of step it - kMmaInFlight has finished reading its stage.
      if (tw == 0 && kt >= kMmaInFlight) {
        mbar_arrive(smem_addr(&empty[(it - kMmaInFlight) % kStages]));
      }
    }
    if constexpr (kMmaInFlight > 0) {
      asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
      fence_acc(d);
      if (tw == 0) {
        for (int64_t back = ktiles < kMmaInFlight ? ktiles : kMmaInFlight; back > 0; --back) {
          mbar_arrive(smem_addr(&empty[(it - back) % kStages]));
        }
      }
    }

    // Accumulator layout of m64nN: thread tw holds rows row_in and row_in + 8 of its 64, and
    // columns 8 i + col_in, + 1 for i < N / 8.
    const int64_t row0 = tm * kBM + c * 64 + row_in;
#pragma unroll
    for (int i = 0; i < kBN / 8; ++i) {
      const int64_t col = tn * kBN + 8 * i + col_in;
      if (col >= g.n) continue;
      const int count = g.n - col >= 2 ? 2 : 1;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t row = row0 + 8 * h;
        if (row >= g.m) continue;
        const int64_t off = row * g.ldc + col;
        store_c(g.c, g.out_format, off, &d[4 * i + 2 * h], count);
      }
    }
  }
#else
  // Only sm_90a machine code has a body; were this ever launched elsewhere (a wrong
  // capability check, a forced PTX JIT), C must not be left unwritten without an error.
  __trap();
#endif
}

PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      p = nullptr;
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}

// A 2-D map over an operand: `inner` elements along the unit-stride axis, `outer` rows `ld`
// elements apart, read in boxes of 64 x box_outer with 128-byte swizzling.
bool make_map(CUtensorMap* map, int in_format, const void* base, int64_t inner, int64_t outer,
              int64_t ld, uint32_t box_outer) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = encode_fn();
  if (encode == nullptr) return false;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(inner), static_cast<cuuint64_t>(outer)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld) * 2};
  const cuuint32_t box[2] = {kBoxInner, box_outer};
  const cuuint32_t elem[2] = {1, 1};
  return encode(map,
                in_format == num::kBF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                        : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
                2, const_cast<void*>(base), dims, strides, box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE,
                CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <bool AK, bool BKm, int In>
cudaError_t launch(const GemmArgs& g, cudaStream_t stream) {
  CUtensorMap ma, mb;
  // A row stride of a matrix with one row is never used; TMA still wants it to cover the row.
  const int64_t lda =
      AK ? (g.m == 1 ? (g.k + 7) / 8 * 8 : g.a_rs) : (g.k == 1 ? (g.m + 7) / 8 * 8 : g.a_cs);
  const int64_t ldb =
      BKm ? (g.n == 1 ? (g.k + 7) / 8 * 8 : g.b_cs) : (g.k == 1 ? (g.n + 7) / 8 * 8 : g.b_rs);
  const bool ok =
      AK ? make_map(&ma, In, g.a, g.k, g.m, lda, kBM) : make_map(&ma, In, g.a, g.m, g.k, lda, kBK);
  const bool okb =
      BKm ? make_map(&mb, In, g.b, g.k, g.n, ldb, kBN) : make_map(&mb, In, g.b, g.n, g.k, ldb, kBK);
  if (!ok || !okb) return cudaErrorInvalidValue;
  auto kernel = gemm_wgmma<AK, BKm, In>;
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  if (e != cudaSuccess) return e;
  int dev = 0, sms = 0;
  if ((e = cudaGetDevice(&dev)) != cudaSuccess ||
      (e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev)) != cudaSuccess) {
    return e;
  }
  const int64_t tiles_m = (g.m + kBM - 1) / kBM, tiles_n = (g.n + kBN - 1) / kBN;
  const int64_t blocks = tiles_m * tiles_n < sms ? tiles_m * tiles_n : sms;
  kernel<<<static_cast<unsigned>(blocks), kThreads, kSmem, stream>>>(ma, mb, g, tiles_m, tiles_n);
  return cudaGetLastError();
}

template <int In>
cudaError_t launch_layout(const GemmArgs& g, bool a_kmajor, bool b_kmajor, cudaStream_t stream) {
  if (a_kmajor) {
    return b_kmajor ? launch<true, true, In>(g, stream) : launch<true, false, In>(g, stream);
  }
  return b_kmajor ? launch<false, true, In>(g, stream) : launch<false, false, In>(g, stream);
}

}  // namespace

bool gemm_sm90_compiled() {
#if defined(HALFKIT_SM90A)
  return true;
#else
  return false;
#endif
}

bool gemm_sm90_takes(const GemmArgs& g, bool a_kmajor, bool b_kmajor) {
  // TMA addresses each operand as one 2-D tensor with 32-bit coordinates and positive strides
  // that cover a row; batches come with arbitrary offsets, which a tensor map cannot express.
  const int64_t lim = (int64_t{1} << 31) - kBN;  // box coordinates run up to a tile past the end
  if (g.batch != 1 || g.a_off != nullptr || g.b_off != nullptr) return false;
  if (g.m >= lim || g.n >= lim || g.k >= lim) return false;
  const int64_t lda = a_kmajor ? g.a_rs : g.a_cs, a_inner = a_kmajor ? g.k : g.m;
  const int64_t a_outer = a_kmajor ? g.m : g.k;
  const int64_t ldb = b_kmajor ? g.b_cs : g.b_rs, b_inner = b_kmajor ? g.k : g.n;
  const int64_t b_outer = b_kmajor ? g.n : g.k;
  return (a_outer == 1 || lda >= a_inner) && (b_outer == 1 || ldb >= b_inner);
}

cudaError_t gemm_sm90(const GemmArgs& g, bool a_kmajor, bool b_kmajor, cudaStream_t stream) {
  if (!gemm_sm90_compiled() || !gemm_sm90_takes(g, a_kmajor, b_kmajor)) {
    return cudaErrorInvalidValue;
  }
  return g.in_format == num::kBF16 ? launch_layout<num::kBF16>(g, a_kmajor, b_kmajor, stream)
                                   : launch_layout<num::kF16>(g, a_kmajor, b_kmajor, stream);
}

}  // namespace cuda
}  // namespace halfkit

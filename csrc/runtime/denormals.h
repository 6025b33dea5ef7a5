// Flush denormals to zero while our kernels run, and restore the caller's mode after. Values near
// zero (a decaying state, a quiet input) would otherwise take a microcode path 10-100x slower.
#pragma once
#include <cstdint>
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

namespace gru_infer {

class FlushDenormals {
public:
#if defined(__x86_64__) || defined(_M_X64)
    // Writing MXCSR costs tens of cycles (a small streaming step is ~500): only when it changes.
    FlushDenormals() noexcept : saved_(_mm_getcsr()) {
        if ((saved_ & kFtzDaz) != kFtzDaz) _mm_setcsr(saved_ | kFtzDaz);
    }
    ~FlushDenormals() {
        if ((saved_ & kFtzDaz) != kFtzDaz) _mm_setcsr(saved_);
    }
    // Whether MXCSR flushes denormals now (FTZ and DAZ both set), as inside a FlushDenormals.
    static bool active() noexcept { return (_mm_getcsr() & kFtzDaz) == kFtzDaz; }
private:
    static constexpr unsigned kFtzDaz = 0x8040;  // MXCSR flush-to-zero (bit 15), denormals-are-zero (bit 6)
    unsigned saved_;
#elif defined(__aarch64__)
    FlushDenormals() noexcept {
        asm volatile("mrs %0, fpcr" : "=r"(saved_));
        if (!(saved_ & kFz)) asm volatile("msr fpcr, %0" : : "r"(saved_ | kFz));
    }
    ~FlushDenormals() {
        if (!(saved_ & kFz)) asm volatile("msr fpcr, %0" : : "r"(saved_));
    }
private:
    static constexpr std::uint64_t kFz = std::uint64_t(1) << 24;  // FPCR.FZ
    std::uint64_t saved_;
#elif defined(__arm__) && defined(__ARM_FP)
    // 32-bit ARM with VFP: FPSCR.FZ flushes VFP's (scalar) results and inputs; NEON flushes always,
    // whatever FPSCR says, so with FZ set the scalar code computes what the NEON kernels do.
    FlushDenormals() noexcept {
        asm volatile("vmrs %0, fpscr" : "=r"(saved_));
        if (!(saved_ & kFz)) asm volatile("vmsr fpscr, %0" : : "r"(saved_ | kFz));
    }
    ~FlushDenormals() {
        if (!(saved_ & kFz)) asm volatile("vmsr fpscr, %0" : : "r"(saved_));
    }
    static bool active() noexcept {
        std::uint32_t v;
        asm volatile("vmrs %0, fpscr" : "=r"(v));
        return v & kFz;
    }
private:
    static constexpr std::uint32_t kFz = std::uint32_t(1) << 24;  // FPSCR.FZ
    std::uint32_t saved_;
#else
    FlushDenormals() noexcept {}
#endif
    FlushDenormals(const FlushDenormals&) = delete;
    FlushDenormals& operator=(const FlushDenormals&) = delete;
};

// For calls too short to pay for two MXCSR writes (a stream step is tens of ns; on Intel cores the
// writes have cost up to ~20 ns of it): run in the caller's mode for as long as its sticky flags say
// that nothing on this thread has met a denormal since they were last cleared (DE: a denormal
// operand, UE: a tiny inexact result). The first call that meets one computes in the caller's mode
// (gradual underflow, as IEEE and PyTorch do: only slower, and denormals differ by less than 2^-126
// from the flushed ones), leaves DE or UE set, and the calls after it flush as FlushDenormals.
// Reading MXCSR costs too (it waits for the floating-point work in flight: ~5 ns a step on Zen 4,
// more than the writes), so after a read that found nothing to do the next kTrustedCalls calls
// with the same counter (one per stream) skip it: a denormal met meanwhile is seen that many calls
// late. Kernels that take another path with flushing on ask FlushDenormals::active() (bf16: the
// hardware flushes as the reference does, instead of masks): `always` flushes for them every call.
#if defined(__x86_64__) || defined(_M_X64)
class FlushDenormalsOnceMet {
public:
    static constexpr unsigned kTrustedCalls = 15;
    FlushDenormalsOnceMet(bool always, unsigned& trusted) noexcept {
        if (!always && trusted) {
            --trusted;
            return;
        }
        saved_ = _mm_getcsr();
        write_ = (saved_ & kFtzDaz) != kFtzDaz && (always || (saved_ & kMet) != 0);
        if (write_) _mm_setcsr(saved_ | kFtzDaz);
        trusted = write_ || always ? 0 : kTrustedCalls;
    }
    ~FlushDenormalsOnceMet() {
        if (write_) _mm_setcsr(saved_);
    }
    FlushDenormalsOnceMet(const FlushDenormalsOnceMet&) = delete;
    FlushDenormalsOnceMet& operator=(const FlushDenormalsOnceMet&) = delete;
    static constexpr unsigned kMet = 0x12;  // MXCSR flags: underflow (bit 4), denormal operand (bit 1)
private:
    static constexpr unsigned kFtzDaz = 0x8040;
    unsigned saved_ = 0;
    bool write_ = false;
};
#else
struct FlushDenormalsOnceMet : FlushDenormals {  // ARM: FPCR / FPSCR, as for longer calls
    static constexpr unsigned kTrustedCalls = 0;
    FlushDenormalsOnceMet(bool, unsigned&) noexcept {}
};
#endif

}  // namespace gru_infer

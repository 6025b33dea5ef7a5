// A 64-byte aligned, fixed-size float buffer. 64 bytes = one cache line = one AVX-512 register,
// which is also the alignment of tensors in the native file. A buffer either owns its memory or is
// a read-only view of someone else's (a model loaded in place from a file image: view()).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace gru_infer {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHugePage = std::size_t(2) << 20;

class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(std::size_t n) { resize(n); }
    // A copy of n floats (weights read from a file, or another buffer), on huge pages if large.
    AlignedBuffer(const float* src, std::size_t n) {
        allocate(n, true);
        if (n) std::memcpy(data_, src, n * sizeof(float));
    }
    AlignedBuffer(const AlignedBuffer& o) : AlignedBuffer(o.data_, o.size_) {}
    AlignedBuffer(AlignedBuffer&& o) noexcept { swap(o); }
    AlignedBuffer& operator=(AlignedBuffer o) noexcept { swap(o); return *this; }
    ~AlignedBuffer() { release(); }

    // A view of n floats at p, which must stay valid and unchanged for the buffer's lifetime.
    static AlignedBuffer view(const float* p, std::size_t n) {
        AlignedBuffer b;
        b.data_ = const_cast<float*>(p);  // never written through: views are only read
        b.size_ = n;
        b.owned_ = false;
        return b;
    }
    bool is_view() const { return !owned_ && data_; }

    // n floats left unwritten: work space that is filled before it is read (no zero-fill pass).
    static AlignedBuffer uninitialized(std::size_t n) {
        AlignedBuffer b;
        b.allocate(n, false);
        return b;
    }

    // n zeros for weights that live as long as the model: on huge pages if large (allocate).
    static AlignedBuffer weights(std::size_t n) {
        AlignedBuffer b;
        b.allocate(n, true);
        if (n) std::memset(b.data_, 0, n * sizeof(float));
        return b;
    }

    // Zero-filled; contents are not preserved.
    void resize(std::size_t n) {
        allocate(n, false);
        if (n) std::memset(data_, 0, n * sizeof(float));
    }
    void swap(AlignedBuffer& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(owned_, o.owned_);
    }

    float* data() { return data_; }
    const float* data() const { return data_; }
    std::size_t size() const { return size_; }
    float& operator[](std::size_t i) { return data_[i]; }
    const float& operator[](std::size_t i) const { return data_[i]; }

private:
#if defined(GRU_INFER_MICRO)
    // The micro runtime (csrc/micro, no exceptions, no heap): its kernels include this header for
    // the types around them and never allocate.
    void allocate(std::size_t, bool) { std::abort(); }
#else
    void allocate(std::size_t n, bool long_lived) {
        release();
        if (n == 0) return;
        // Large long-lived buffers (the weights of a big layer) start on a 2 MB boundary and ask
        // Linux for huge pages: a step streams all of its weights, and with 4 KB pages a 12 MB
        // matrix costs a TLB miss every 4 KB. Not for per-call work space: a fresh huge page is
        // zeroed by the kernel on first touch, which costs more than it saves there (measured).
        const bool huge = long_lived && n * sizeof(float) >= kHugePage;
        const std::size_t align = huge ? kHugePage : kAlignment;
        const std::size_t bytes = (n * sizeof(float) + align - 1) / align * align;
        data_ = static_cast<float*>(std::aligned_alloc(align, bytes));
        if (!data_) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (huge) madvise(data_, bytes, MADV_HUGEPAGE);  // a hint: no huge pages is fine too
#endif
        size_ = n;
        owned_ = true;
    }
#endif
    void release() {
        if (owned_) std::free(data_);
        data_ = nullptr;
        size_ = 0;
        owned_ = true;
    }

    float* data_ = nullptr;
    std::size_t size_ = 0;
    bool owned_ = true;
};

}  // namespace gru_infer

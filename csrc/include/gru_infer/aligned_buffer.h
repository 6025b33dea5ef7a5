// A 64-byte aligned, fixed-size float buffer. 64 bytes = one cache line = one AVX-512 register,
// which is also the alignment of tensors in the native file.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace gru_infer {

constexpr std::size_t kAlignment = 64;

class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(std::size_t n) { resize(n); }
    AlignedBuffer(const float* src, std::size_t n) {
        resize(n);
        if (n) std::memcpy(data_, src, n * sizeof(float));
    }
    AlignedBuffer(const AlignedBuffer& o) : AlignedBuffer(o.data_, o.size_) {}
    AlignedBuffer(AlignedBuffer&& o) noexcept { swap(o); }
    AlignedBuffer& operator=(AlignedBuffer o) noexcept { swap(o); return *this; }
    ~AlignedBuffer() { std::free(data_); }

    // Zero-filled; contents are not preserved.
    void resize(std::size_t n) {
        std::free(data_);
        data_ = nullptr;
        size_ = 0;
        if (n == 0) return;
        std::size_t bytes = (n * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
        data_ = static_cast<float*>(std::aligned_alloc(kAlignment, bytes));
        if (!data_) throw std::bad_alloc();
        std::memset(data_, 0, bytes);
        size_ = n;
    }
    void swap(AlignedBuffer& o) noexcept { std::swap(data_, o.data_); std::swap(size_, o.size_); }

    float* data() { return data_; }
    const float* data() const { return data_; }
    std::size_t size() const { return size_; }
    float& operator[](std::size_t i) { return data_[i]; }
    const float& operator[](std::size_t i) const { return data_[i]; }

private:
    float* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace gru_infer

// Limits on sizes that come from outside (a batch from the caller, widths from a model file) and
// the one checked multiply that every size product of them goes through: a product that wrapped
// around would allocate a tiny buffer and then write past it.
//
// Why these bounds keep every internal product exact: a layer is at most kMaxLayerWidth wide, its
// weight counts are checked products (checked_mul in the layers' constructors: 3 x 2^20 x 2^20 does
// not fit a 32-bit size_t), and a request (stream batch, predict batch x steps) is refused once
// its buffers would pass kMaxBufferBytes. Below those, sizes are at most 2^45 floats (64-bit) or
// 2^27 floats (32-bit) times small factors (3 gates, 2 directions, tile rounding, 4 bytes a float),
// far from 2^64, and below 2^32 on a 32-bit host.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "gru_infer/error.h"

namespace gru_infer {

// The most bytes any one request may need for its buffers: 2^47, the user address space of the
// 64-bit CPUs we run on (x86-64, aarch64 with 48-bit virtual addresses); on a 32-bit host (armv7)
// 2^29 - 1 (an eighth of the address space, which a process gets at most 3/4 of): a size of up to
// kMaxBufferFloats floats times 8 in bytes still fits in 32 bits. Requests past it get an
// InvalidArgument that names the bound, not a wrapped size. Requests under it may still fail with
// bad_alloc.
constexpr std::size_t kMaxBufferBytes =
    sizeof(std::size_t) >= 8 ? static_cast<std::size_t>(std::uint64_t(1) << 47) : SIZE_MAX / 8;
constexpr std::size_t kMaxBufferFloats = kMaxBufferBytes / sizeof(float);

// The widest a layer may be (features in, out, or GRU hidden units): 2^20. Real GRUs are at most
// a few thousand wide; a GRU this wide would hold 3 * 2^40 recurrent weights.
constexpr std::size_t kMaxLayerWidth = std::size_t(1) << 20;

// a * b, or false (and *out untouched) if the product does not fit in size_t.
inline bool mul_fits(std::size_t a, std::size_t b, std::size_t* out) {
    if (b != 0 && a > SIZE_MAX / b) return false;
    *out = a * b;
    return true;
}

// a * b; throws InvalidArgument("<what> ... too large") if the product does not fit in size_t.
inline std::size_t checked_mul(std::size_t a, std::size_t b, const char* what) {
    std::size_t n;
    if (!mul_fits(a, b, &n))
        throw InvalidArgument(std::string(what) + ": " + std::to_string(a) + " x " + std::to_string(b) +
                              " does not fit in size_t");
    return n;
}

}  // namespace gru_infer

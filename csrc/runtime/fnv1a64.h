// The checksum of native model files (bytes 64.. of the file, stored at offset 48): 64-bit FNV-1a.
// Header-only, no allocation: the hosted reader and writer, the micro runtime and tests use it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace gru_infer {

inline std::uint64_t fnv1a64(const unsigned char* p, std::size_t n) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < n; ++i) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}

}  // namespace gru_infer

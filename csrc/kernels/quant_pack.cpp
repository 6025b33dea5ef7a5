// Packing fp32 weights into the reduced-precision layout of quant_kernels.h, and back.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "gru_infer/error.h"
#include "gru_infer/gru_layer.h"
#include "quant_kernels.h"

namespace gru_infer {

std::uint16_t to_bf16(float v) {
    std::uint32_t b;
    std::memcpy(&b, &v, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((b >> 16) | 0x40);  // quiet NaN
    if ((b & 0x7f800000u) == 0) return static_cast<std::uint16_t>((b >> 16) & 0x8000);        // denormal -> 0
    b += 0x7fffu + ((b >> 16) & 1u);
    return static_cast<std::uint16_t>(b >> 16);
}

float from_bf16(std::uint16_t h) {
    const std::uint32_t b = static_cast<std::uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &b, 4);
    return v;
}

std::uint16_t to_fp16(float v) {
    std::uint32_t b;
    std::memcpy(&b, &v, 4);
    const std::uint32_t sign = (b >> 16) & 0x8000u, abs = b & 0x7fffffffu;
    if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
    if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
    if (abs < 0x38800000u) {  // fp16 denormal (or zero): value / 2^-24, rounded to nearest even
        const float a = std::fabs(v) * 16777216.0f;  // exact: a power-of-two scale
        return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(std::nearbyint(a)));
    }
    std::uint32_t m = abs + 0xc8000000u;  // rebias exponent 127 -> 15 (in bits 23+)
    m += 0xfffu + ((m >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | (m >> 13));
}

float from_fp16(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    std::uint32_t b;
    if (e == 0) {
        const float v = static_cast<float>(m) / 16777216.0f;
        std::memcpy(&b, &v, 4);
        b |= sign;
    } else if (e == 31) {
        b = sign | 0x7f800000u | (m << 13);
    } else {
        b = sign | ((e + 112u) << 23) | (m << 13);
    }
    float v;
    std::memcpy(&v, &b, 4);
    return v;
}

long gru_row_of(std::size_t p, std::size_t rows, std::size_t subs) {
    const std::size_t H = rows / 3, t = p / (subs * kQLanes), s = (p / kQLanes) % subs, u = t * kQLanes + p % kQLanes;
    return u < H ? static_cast<long>(s * H + u) : -1;
}

long dense_row_of(std::size_t p, std::size_t rows, std::size_t) { return p < rows ? static_cast<long>(p) : -1; }

namespace {

// Byte offset of packed row p, input k.
inline std::size_t elem_index(const QMatrix& m, std::size_t p, std::size_t k) {
    const std::size_t G = q_group(m.format), per_block = m.subs * kQLanes;
    const std::size_t b = p / per_block, s = (p / kQLanes) % m.subs, l = p % kQLanes, q = k / G, e = k % G;
    return ((b * m.groups() + q) * m.subs + s) * kQLanes * G + l * G + e;
}

AlignedBuffer byte_buffer(std::size_t bytes) { return AlignedBuffer::weights((bytes + 3) / 4); }

}  // namespace

QMatrix pack_qmatrix(WeightFormat f, const float* w, std::size_t rows, std::size_t cols, std::size_t subs,
                     std::size_t blocks, long (*row_of)(std::size_t, std::size_t, std::size_t)) {
    if (f == WeightFormat::F32) throw InvalidArgument("pack_qmatrix: fp32 weights use the fp32 layout");
    // int8 sums of 255 * 127 per input (the u8 offset of vpdpbusd) must fit in int32.
    if (f == WeightFormat::Int8 && cols > 66000)
        throw InvalidArgument("int8 weights support at most 66000 inputs per row, got " + std::to_string(cols));
    QMatrix m;
    m.format = f;
    m.rows = rows;
    m.cols = cols;
    m.subs = subs;
    m.blocks = blocks;
    const std::size_t G = q_group(f);
    m.kpad = (cols + G - 1) / G * G;
    m.data = byte_buffer(m.blocks * m.block_bytes());
    const std::size_t P = m.packed_rows();
    if (f == WeightFormat::Int8) {
        m.scale = AlignedBuffer::weights(P);
        m.rowsum = AlignedBuffer::weights(P);
    }
    auto* i8 = reinterpret_cast<std::int8_t*>(m.data.data());
    auto* u16 = reinterpret_cast<std::uint16_t*>(m.data.data());
    auto* sums = reinterpret_cast<std::int32_t*>(m.rowsum.data());
    for (std::size_t p = 0; p < P; ++p) {
        const long r = row_of(p, rows, subs);
        if (r < 0) continue;
        const float* src = w + static_cast<std::size_t>(r) * cols;
        if (f == WeightFormat::Int8) {
            float amax = 0.0f;
            for (std::size_t k = 0; k < cols; ++k) amax = std::max(amax, std::fabs(src[k]));
            if (!std::isfinite(amax)) throw InvalidArgument("cannot quantize weights that are not finite");
            const float scale = amax / 127.0f;
            m.scale[p] = scale;
            std::int32_t sum = 0;
            for (std::size_t k = 0; k < cols; ++k) {
                const float q = amax > 0.0f ? std::nearbyint(src[k] / scale) : 0.0f;
                const auto v = static_cast<std::int8_t>(std::min(127.0f, std::max(-127.0f, q)));
                i8[elem_index(m, p, k)] = v;
                sum += v;
            }
            sums[p] = sum;
        } else {
            for (std::size_t k = 0; k < cols; ++k)
                u16[elem_index(m, p, k)] = f == WeightFormat::BF16 ? to_bf16(src[k]) : to_fp16(src[k]);
        }
    }
    return m;
}

void unpack_qmatrix(const QMatrix& m, float* w, long (*row_of)(std::size_t, std::size_t, std::size_t)) {
    const auto* i8 = reinterpret_cast<const std::int8_t*>(m.data.data());
    const auto* u16 = reinterpret_cast<const std::uint16_t*>(m.data.data());
    for (std::size_t p = 0; p < m.packed_rows(); ++p) {
        const long r = row_of(p, m.rows, m.subs);
        if (r < 0) continue;
        float* dst = w + static_cast<std::size_t>(r) * m.cols;
        for (std::size_t k = 0; k < m.cols; ++k) {
            const std::size_t i = elem_index(m, p, k);
            dst[k] = m.format == WeightFormat::Int8 ? static_cast<float>(i8[i]) * m.scale[p]
                     : m.format == WeightFormat::BF16 ? from_bf16(u16[i])
                                                      : from_fp16(u16[i]);
        }
    }
}

QuantGru quantize_gru(const GruWeights& w, std::size_t I, std::size_t H, WeightFormat f, float x_scale) {
    if (!(x_scale >= 0.0f) || std::isinf(x_scale))
        throw InvalidArgument("int8 input scale must be finite and >= 0 (0 = dynamic), got " + std::to_string(x_scale));
    QuantGru q;
    q.format = f;
    q.input = I;
    q.hidden = H;
    q.tiles = (H + kQLanes - 1) / kQLanes;
    q.x_scale = f == WeightFormat::Int8 ? x_scale : 0.0f;
    q.W = pack_qmatrix(f, w.W.data(), 3 * H, I, 3, q.tiles, gru_row_of);
    q.R = pack_qmatrix(f, w.R.data(), 3 * H, H, 3, q.tiles, gru_row_of);
    q.bx = AlignedBuffer::weights(q.tiles * kQTileRow);
    q.bh = AlignedBuffer::weights(q.tiles * kQTileRow);
    for (std::size_t p = 0; p < q.tiles * kQTileRow; ++p) {
        const long r = gru_row_of(p, 3 * H, 3);
        if (r < 0) continue;
        q.bx[p] = w.bW[static_cast<std::size_t>(r)];
        q.bh[p] = w.bR[static_cast<std::size_t>(r)];
    }
    return q;
}

QuantDense quantize_dense(const float* w, const float* b, std::size_t in, std::size_t out, WeightFormat f,
                          float x_scale) {
    QuantDense d;
    d.W = pack_qmatrix(f, w, out, in, 1, (out + kQLanes - 1) / kQLanes, dense_row_of);
    d.bias = AlignedBuffer::weights(d.W.packed_rows());
    std::memcpy(d.bias.data(), b, out * sizeof(float));
    d.x_scale = f == WeightFormat::Int8 ? x_scale : 0.0f;
    return d;
}

GruWeights dequantize_gru(const QuantGru& q) {
    const std::size_t I = q.input, H = q.hidden;
    GruWeights w{AlignedBuffer(3 * H * I), AlignedBuffer(3 * H * H), AlignedBuffer(3 * H), AlignedBuffer(3 * H)};
    unpack_qmatrix(q.W, w.W.data(), gru_row_of);
    unpack_qmatrix(q.R, w.R.data(), gru_row_of);
    for (std::size_t p = 0; p < q.tiles * kQTileRow; ++p) {
        const long r = gru_row_of(p, 3 * H, 3);
        if (r < 0) continue;
        w.bW[static_cast<std::size_t>(r)] = q.bx[p];
        w.bR[static_cast<std::size_t>(r)] = q.bh[p];
    }
    return w;
}

}  // namespace gru_infer

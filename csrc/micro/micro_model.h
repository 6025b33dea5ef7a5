// The micro runtime's model: layer records parsed from a native file (docs/native_format.md), their
// tensors pointing into the file itself, and the arena plan. Private to csrc/micro.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "gru_infer_micro.h"

namespace gru_micro_impl {

// Values of the native format (csrc/native_file.cpp, gru_infer/layer.h, activation.h, weight_format.h).
enum Kind : uint32_t { kGru = 1, kDense = 2, kActivation = 3, kEmbedding = 4, kLastStep = 5, kInputSkip = 6,
                       kAffine = 7 };
enum Act : uint32_t { kIdentity = 0, kSigmoid = 1, kTanh = 2, kRelu = 3, kSoftmax = 4, kHardSigmoid = 5,
                      kLeakyRelu = 6, kElu = 7, kSoftsign = 8, kSoftplus = 9, kAffineAct = 10, kScaledTanh = 11,
                      kLogSoftmax = 13, kGelu = 14, kSilu = 16, kClip = 17, kHardSwish = 18, kActCount = 22 };
constexpr uint32_t kFormatF32 = 0, kFormatInt8 = 3;
constexpr size_t kTile = 8, kTileRow = 24;   // fp32 packed GRU: tiles of 8 units, rows [z | r | n]
constexpr size_t kQLanes = 16, kQGroup = 4;  // int8: blocks of 16 units, groups of 4 inputs

// An int8 matrix in the packed layout of kernels/quant_kernels.h (S sub-blocks of 16 rows per block).
struct QMat {
    const int8_t* w;
    const float* scale;  // per packed row
    uint32_t cols, kpad, subs, blocks;
};

struct Layer {
    uint32_t kind, in, out;
    uint32_t format;          // kFormatF32 or kFormatInt8 (GRU, Dense)
    uint32_t act, hidden;     // Activation: its kind; GRU: H
    float alpha, beta;        // Activation parameters
    bool reset_after;         // GRU: linear_before_reset (PyTorch)
    float clip, x_scale;      // GRU clip; int8 input scale (0: dynamic)
    const float* h0;          // GRU initial state or null
    const float* w;           // fp32 GRU packed rows, Dense W (out, in), Affine scale
    const float* b0;          // fp32 GRU bx, Dense / int8 Dense bias, Affine shift
    const float* b1;          // GRU bh (fp32: 24 per tile, int8: 48 per tile)
    QMat qw, qr;              // int8 GRU W and R; int8 Dense W (qw)
    size_t state;             // GRU: offset of its state in the arena's state floats
};

// Everything a step needs, at the start of the arena; the layer table, states and scratch follow.
struct Runtime {
    Layer* layers;
    uint32_t n_layers, input, output;
    float* states;            // sum of the GRU hidden sizes
    float* buf[2];            // ping-pong layer outputs, max width floats each
    void* scratch;            // the widest layer's step scratch
};

// Parses and checks the whole file; fills layers[0 .. capacity) with its first records (the plan
// says how many there are). Sets the plan's sizes.
struct Plan {
    uint32_t n_layers, input, output, max_width;
    size_t state_floats, scratch_bytes;
};
gru_micro_status parse(const uint8_t* file, size_t size, Layer* layers, size_t capacity, Plan* plan);

// Step scratch of a GRU or Dense layer (bytes, multiple of 8).
size_t gru_scratch_bytes(const Layer& l);
size_t dense_scratch_bytes(const Layer& l);

// Layer steps: x (l.in) -> y (l.out); GRU steps update `h` (l.hidden) and write it to y too.
void gru_step_f32(const Layer& l, const float* x, float* h, float* y, void* scratch);
void gru_step_int8(const Layer& l, const float* x, float* h, float* y, void* scratch);
void dense_int8(const Layer& l, const float* x, float* y, void* scratch);

}  // namespace gru_micro_impl

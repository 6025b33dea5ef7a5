// The native model file: one versioned little-endian binary with 64-byte aligned tensors.
// The layout is documented in docs/native_format.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gru_infer/model.h"

namespace gru_infer {

// Version 2 stores GRU weights in the packed layout the kernels use (version 1 files still load).
// The newest version read; files are written as version 2 unless a GRU layer has an initial
// state (version 4) or a layer has reduced-precision weights (version 3).
constexpr std::uint32_t kNativeFormatVersion = 4;

enum class LoadMode {
    Copy,  // the model owns copies of the weights: the buffer can go once loading returns
    View,  // zero-copy: the model's tensors point into the buffer, which must be 64-byte aligned and
           // stay valid and unchanged while the model (and every stream of it) lives
};

std::vector<std::uint8_t> serialize_model(const Model& model);
void save_model(const Model& model, const std::string& path);

// Throw FormatError for anything that is not a valid model file of a version we read.
std::shared_ptr<Model> load_model_from_memory(const void* data, std::size_t size, LoadMode mode = LoadMode::Copy);
std::shared_ptr<Model> load_model(const std::string& path);

}  // namespace gru_infer

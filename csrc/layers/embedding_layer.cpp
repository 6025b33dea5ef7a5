#include "gru_infer/embedding_layer.h"

#include <cstring>
#include <string>

#include "gru_infer/error.h"
#include "runtime/checked_size.h"

namespace gru_infer {

EmbeddingLayer::EmbeddingLayer(std::size_t num_embeddings, std::size_t dim, AlignedBuffer table)
    : num_(num_embeddings), dim_(dim), table_(std::move(table)) {
    if (num_ == 0 || dim_ == 0)
        throw InvalidArgument("Embedding sizes must be positive, got " + std::to_string(num_) + " x " +
                              std::to_string(dim_));
    if (table_.size() != checked_mul(num_, dim_, "Embedding table (rows x dim)"))  // (no wrap on 32-bit hosts)
        throw InvalidArgument("Embedding table: expected " + std::to_string(num_) + " x " +
                              std::to_string(dim_) + " values, got " + std::to_string(table_.size()));
}

void EmbeddingLayer::check_id(std::int64_t id, std::size_t position) const {
    if (id < 0 || static_cast<std::uint64_t>(id) >= num_)
        throw InvalidArgument("Embedding id " + std::to_string(id) + " at position " + std::to_string(position) +
                              " is outside [0, " + std::to_string(num_) + ")");
}

void EmbeddingLayer::check_ids(const std::int64_t* ids, std::size_t n) const {
    for (std::size_t i = 0; i < n; ++i) check_id(ids[i], i);
}

void EmbeddingLayer::lookup(const std::int64_t* ids, std::size_t n, float* y) const {
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t id = ids[i];  // checked and used as one read: the caller's array may change meanwhile
        check_id(id, i);
        std::memcpy(y + i * dim_, table_.data() + static_cast<std::size_t>(id) * dim_, dim_ * sizeof(float));
    }
}

void EmbeddingLayer::forward(const float*, float*, std::size_t, std::size_t, const SequenceContext&) const {
    throw InvalidArgument("an Embedding layer takes integer ids, not floats");
}

void EmbeddingLayer::step(const float*, float*, std::size_t, float*, float*, const StepContext&) const {
    // Streams call Stream::step_ids for id models; never reached for a well-formed model.
}

}  // namespace gru_infer

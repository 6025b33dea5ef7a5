// Stream slots: one step of some batch rows only. The active slots' states are gathered into
// contiguous rows, stepped together (one pass over the weights for all of them, the batched
// kernels of a batch of that size), and scattered back.
#include <cstring>
#include <limits>
#include <string>

#include "gru_infer/error.h"
#include "gru_infer/stream.h"

namespace gru_infer {

void Stream::check_slots(std::size_t n, const std::size_t* slots) const {
    if (n > batch_)
        throw InvalidArgument("slots: " + std::to_string(n) + " given, the stream has " + std::to_string(batch_));
    std::vector<bool> seen(batch_);
    for (std::size_t j = 0; j < n; ++j) {
        const std::size_t s = slots[j];  // read once: the caller's array may change meanwhile
        if (s >= batch_) throw InvalidArgument("slot " + std::to_string(s) + " is outside [0, " + std::to_string(batch_) + ")");
        if (seen[s]) throw InvalidArgument("slot " + std::to_string(s) + " is given twice");
        seen[s] = true;
    }
}

// Checks a copy: each slot is read once into slot_ids_, which the step then uses, so a caller
// changing its array while the step runs (another thread, without the GIL) cannot move a write
// out of bounds.
bool Stream::slots_valid(std::size_t n, const std::size_t* slots) noexcept {
    if (n > batch_) return false;
    std::size_t j = 0;
    for (; j < n; ++j) {
        const std::size_t s = slots[j];
        if (s >= batch_ || slot_mark_[s]) break;
        slot_mark_[s] = 1;
        slot_ids_[j] = s;
    }
    for (std::size_t i = 0; i < j; ++i) slot_mark_[slot_ids_[i]] = 0;  // slot_ids_[0..j) are valid and distinct
    return j == n;
}

void Stream::move_slot_states(std::size_t n, bool gather) noexcept {
    const std::size_t* slots = slot_ids_.data();
    const auto& layers = model_->layers();
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const std::size_t S = layers[i]->state_size();
        if (!S) continue;
        float* full = state_.data() + state_offset_[i];
        float* mine = slot_state_.data() + state_row_offset_[i] * n;
        for (std::size_t j = 0; j < n; ++j) {
            if (gather) std::memcpy(mine + j * S, full + slots[j] * S, S * sizeof(float));
            else std::memcpy(full + slots[j] * S, mine + j * S, S * sizeof(float));
        }
    }
}

void Stream::step_slots(std::size_t n, const std::size_t* slots, const float* x, float* y) noexcept {
    if (model_->takes_ids() || !slots_valid(n, slots)) {
        for (std::size_t i = 0; i < n * model_->output_size(); ++i) y[i] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    if (!n) return;
    move_slot_states(n, true);
    run_from(0, x, y, n, slot_state_.data());
    move_slot_states(n, false);
}

void Stream::step_ids_slots(std::size_t n, const std::size_t* slots, const std::int64_t* ids, float* y) noexcept {
    if (!model_->takes_ids() || !slots_valid(n, slots)) {
        for (std::size_t i = 0; i < n * model_->output_size(); ++i) y[i] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    if (!n) return;
    move_slot_states(n, true);
    lookup_ids(ids, n, ping_.data());
    run_from(1, ping_.data(), y, n, slot_state_.data());
    move_slot_states(n, false);
}

void Stream::reset_slots(std::size_t n, const std::size_t* slots) noexcept {
    for (std::size_t j = 0; j < n; ++j) {
        const std::size_t s = slots[j];  // read once: the caller's array may change meanwhile
        if (s < batch_) reset_row(s);
    }
}

void Stream::get_slot_state(std::size_t slot, float* out) const noexcept {
    const auto& layers = model_->layers();
    for (std::size_t i = 0; i < layers.size() && slot < batch_; ++i) {
        const std::size_t S = layers[i]->state_size();
        std::memcpy(out, state_.data() + state_offset_[i] + slot * S, S * sizeof(float));
        out += S;
    }
}

void Stream::set_slot_state(std::size_t slot, const float* in) noexcept {
    const auto& layers = model_->layers();
    for (std::size_t i = 0; i < layers.size() && slot < batch_; ++i) {
        const std::size_t S = layers[i]->state_size();
        std::memcpy(state_.data() + state_offset_[i] + slot * S, in, S * sizeof(float));
        in += S;
    }
}

}  // namespace gru_infer

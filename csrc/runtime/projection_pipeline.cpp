#include "runtime/projection_pipeline.h"

#include <thread>

#include "gru_infer/error.h"

namespace gru_infer {
namespace {

std::size_t checked_block(std::size_t block) {
    if (block == 0) throw InvalidArgument("projection pipeline: block must be at least 1 step");
    return block;
}

}  // namespace

ProjectionPipeline::ProjectionPipeline(std::size_t steps, std::size_t block,
                                       std::function<void(std::size_t, std::size_t)> project)
    : steps_(steps), block_(checked_block(block)), blocks_((steps + block - 1) / block), project_(std::move(project)),
      done_(new std::atomic<bool>[blocks_]) {
    for (std::size_t b = 0; b < blocks_; ++b) done_[b].store(false, std::memory_order_relaxed);
}

bool ProjectionPipeline::compute_next() {
    const std::size_t b = next_.fetch_add(1, std::memory_order_relaxed);
    if (b >= blocks_) return false;
    const std::size_t s0 = b * block_, s1 = s0 + block_ < steps_ ? s0 + block_ : steps_;
    project_(s0, s1);
    done_[b].store(true, std::memory_order_release);
    return true;
}

void ProjectionPipeline::produce() {
    while (compute_next()) {
    }
}

void ProjectionPipeline::wait_for(std::size_t step) {
    const std::size_t b = step / block_;
    while (!done_[b].load(std::memory_order_acquire)) {
        // Not done: compute the next unclaimed block ourselves (it is b or one before it), or,
        // when all up to b are claimed, wait for the thread that holds b.
        if (next_.load(std::memory_order_relaxed) <= b) compute_next();
        else std::this_thread::yield();
    }
}

}  // namespace gru_infer

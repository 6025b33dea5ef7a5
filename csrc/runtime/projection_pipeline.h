// The input projection of one sequence, computed block by block while the recurrence runs on
// another thread. A batch of one cannot be split across threads, so without this a second core
// sits idle while one core does the projection GEMM and then every step.
//
// Blocks are claimed with one atomic counter, in processing order. The recurrence calls
// wait_for(step) before each step: if the step's block is unclaimed it computes it itself, if
// another thread holds it, it waits for that thread. So nothing depends on the helper thread ever
// starting, and each row is computed by exactly one call of `project`: the result is the same
// bit for bit with or without the helper (project must compute each row independently of the
// others in its block, as gemm_packed does).
#pragma once
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

namespace gru_infer {

class ProjectionPipeline {
public:
    // project(s0, s1) computes the projection needed by processing steps s0 .. s1 - 1.
    ProjectionPipeline(std::size_t steps, std::size_t block, std::function<void(std::size_t, std::size_t)> project);

    // Helper thread: claims and computes blocks until every block is claimed.
    void produce();
    // Recurrence: returns once the block holding processing step `step` is computed.
    void wait_for(std::size_t step);

private:
    // Claims the next block and computes it; false when every block is claimed.
    bool compute_next();

    std::size_t steps_, block_, blocks_;
    std::function<void(std::size_t, std::size_t)> project_;
    std::atomic<std::size_t> next_{0};
    std::unique_ptr<std::atomic<bool>[]> done_;
};

}  // namespace gru_infer

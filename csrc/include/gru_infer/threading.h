// Threads for whole-sequence predict: batches are split across threads and the two directions of
// a bidirectional layer run in parallel. Streams are always single-threaded.
#pragma once
#include <cstddef>
#include <functional>

namespace gru_infer {

// Threads predict may use; default: the machine's cores. n = 0 restores that default.
void set_num_threads(std::size_t n);
std::size_t get_num_threads();

// Runs fn(0) .. fn(tasks - 1), on up to `threads` threads (the caller's among them); returns when
// all are done. An exception from any task is rethrown in the caller.
void parallel_for(std::size_t tasks, std::size_t threads, const std::function<void(std::size_t)>& fn);

// True inside a parallel_for task, where a nested parallel_for runs its tasks one after another.
bool inside_parallel_for();

}  // namespace gru_infer

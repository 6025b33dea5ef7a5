// The library's own thread fan-out (private: not installed). Implemented in threading.cpp, next to
// the thread count it defaults to (get_num_threads, threading.h).
#pragma once
#include <cstddef>
#include <functional>

namespace gru_infer {

// Runs fn(0) .. fn(tasks - 1), on up to `threads` threads (the caller's among them); returns when
// all are done. An exception from any task is rethrown in the caller.
void parallel_for(std::size_t tasks, std::size_t threads, const std::function<void(std::size_t)>& fn);

// True inside a parallel_for task, where a nested parallel_for runs its tasks one after another.
bool inside_parallel_for();

}  // namespace gru_infer

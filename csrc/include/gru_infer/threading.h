// Threads for whole-sequence predict: batches are split across threads and the two directions of
// a bidirectional layer run in parallel. Streams are always single-threaded.
#pragma once
#include <cstddef>

namespace gru_infer {

// Threads predict may use; default: the machine's cores. n = 0 restores that default.
void set_num_threads(std::size_t n);
std::size_t get_num_threads();

}  // namespace gru_infer

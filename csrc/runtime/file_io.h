// Whole files in and out, for model files: reads that refuse what is not a regular file and look
// at the head before reading on, and writes that never leave a half-written file behind.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gru_infer {

// Reads a regular file (FileError for a device, FIFO or folder, which could be endless or block).
// check_head(head, n, file_size) sees the first min(head_bytes, file_size) bytes before the rest is
// read, and throws to stop there.
std::vector<std::uint8_t> read_regular_file(
    const std::string& path, std::size_t head_bytes,
    const std::function<void(const std::uint8_t*, std::size_t, std::uint64_t)>& check_head);

// Writes `size` bytes to `path` so that a failure leaves the old file as it was: a temporary
// file in the same folder, written, flushed and fsync'ed, then renamed over `path`. A path that
// is a device or FIFO (/dev/stdout) is written directly, every write checked. Throws FileError
// (code() = errno) and removes the temporary file on any failure.
void write_file_atomically(const std::string& path, const void* data, std::size_t size);

}  // namespace gru_infer

// Exceptions thrown by the library. Bad input never aborts: it throws one of these with a message
// that says what was expected and what was given.
#pragma once
#include <stdexcept>
#include <string>
#include <system_error>

namespace gru_infer {

// A caller passed something of the wrong shape, size or value.
struct InvalidArgument : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// A model file (or buffer) is corrupt, truncated, of another version, or not ours.
struct FormatError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A file could not be opened, read or written: code() holds the errno, action() what failed
// ("cannot write"), path() the file; what() says all three.
struct FileError : std::system_error {
    FileError(int errno_value, const std::string& path, const std::string& action)
        : std::system_error(errno_value, std::generic_category(), action + " '" + path + "'"),
          path_(path), action_(action) {}
    const std::string& path() const { return path_; }
    const std::string& action() const { return action_; }

private:
    std::string path_, action_;
};

}  // namespace gru_infer

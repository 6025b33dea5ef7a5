// Exceptions thrown by the library. Bad input never aborts: it throws one of these with a message
// that says what was expected and what was given.
#pragma once
#include <stdexcept>
#include <string>

namespace gru_infer {

// A caller passed something of the wrong shape, size or value.
struct InvalidArgument : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// A model file (or buffer) is corrupt, truncated, of another version, or not ours.
struct FormatError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace gru_infer

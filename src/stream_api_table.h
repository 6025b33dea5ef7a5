// Builds the public stream table (gru_infer/include/gru_infer/stream_api.h) for a C++ stream.
#pragma once
#include "gru_infer/stream.h"
#include "gru_infer/stream_api.h"

namespace gru_infer {

// The table points at `stream`, which must outlive every use of it.
gru_infer_stream_api make_stream_api(Stream& stream);

}  // namespace gru_infer

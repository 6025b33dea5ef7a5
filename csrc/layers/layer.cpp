#include "gru_infer/layer.h"

namespace gru_infer {

const char* layer_kind_name(LayerKind kind) {
    switch (kind) {
        case LayerKind::Gru: return "GRU";
        case LayerKind::Dense: return "Dense";
        case LayerKind::Activation: return "Activation";
        case LayerKind::Embedding: return "Embedding";
        case LayerKind::LastStep: return "LastStep";
    }
    return "unknown";
}

}  // namespace gru_infer

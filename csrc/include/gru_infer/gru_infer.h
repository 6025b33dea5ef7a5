// Everything a C++ application needs: load a model file, predict, stream.
#pragma once
#include "gru_infer/activation_layer.h"
#include "gru_infer/dense_layer.h"
#include "gru_infer/embedding_layer.h"
#include "gru_infer/error.h"
#include "gru_infer/gru_layer.h"
#include "gru_infer/isa.h"
#include "gru_infer/last_step_layer.h"
#include "gru_infer/model.h"
#include "gru_infer/native_file.h"
#include "gru_infer/stream.h"
#include "gru_infer/threading.h"

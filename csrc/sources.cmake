# The core's sources, relative to csrc/. Read by CMakeLists.txt and by setup.py (a regex over the
# ${CMAKE_CURRENT_LIST_DIR}/... lines): keep one path a line. Kernel files carry their own
# architecture guards, so every file is listed on every target.
set(GRU_INFER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/activation.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/native_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/c_api.cpp
  ${CMAKE_CURRENT_LIST_DIR}/runtime/threading.cpp
  ${CMAKE_CURRENT_LIST_DIR}/runtime/projection_pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/gru_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/gru_sequence.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/gru_generic.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/dense_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/activation_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/embedding_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/last_step_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/dispatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_pack.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_nt/gemm_nt_f32_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_nt/gemm_nt_f32_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_nt/gemm_nt_f32_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_f32_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_f32_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_f32_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_f32_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_f32_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_f32_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/vact/vact_f32_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/vact/vact_f32_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/vact/vact_f32_neon.cpp
)

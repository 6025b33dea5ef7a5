# The core's sources, relative to csrc/. Read by CMakeLists.txt and by setup.py: keep one path a line.
set(GRU_INFER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/activation.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/native_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/gru_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/dense_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/activation_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/embedding_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/last_step_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/dispatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/scalar/gemm_nt_f32_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/x86/gemm_nt_f32_avx2.cpp
)

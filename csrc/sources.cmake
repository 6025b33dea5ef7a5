# The core's sources, relative to csrc/, in lists that CMakeLists.txt picks from:
#   GRU_INFER_SOURCES                   always: the model, layers, native file, C API, dispatch and
#                                       the scalar fp32 reference kernels
#   GRU_INFER_<ISA>_SOURCES             the fp32 kernels of one ISA (AVX2, AVX512, NEON; AMX has
#                                       none of its own), when that ISA is in GRU_INFER_ISAS
#   GRU_INFER_QUANT_SOURCES             reduced precision (int8, bf16, fp16): packing, dispatch and the
#                                       scalar references, when GRU_INFER_REDUCED_PRECISION is ON
#   GRU_INFER_QUANT_<ISA>_SOURCES       their kernels of one ISA, when both are on
# setup.py (the Python extension, everything in) reads every ${CMAKE_CURRENT_LIST_DIR}/... line
# of this file with a regex: keep one path a line, each file in exactly one list. Kernel files
# carry their own architecture guards, so every list is for every target.
set(GRU_INFER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/activation.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_block.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_slots.cpp
  ${CMAKE_CURRENT_LIST_DIR}/native_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/c_api.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quantize.cpp
  ${CMAKE_CURRENT_LIST_DIR}/runtime/threading.cpp
  ${CMAKE_CURRENT_LIST_DIR}/runtime/file_io.cpp
  ${CMAKE_CURRENT_LIST_DIR}/runtime/projection_pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/gru_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/gru_sequence.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/gru_generic.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/gru_quant.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/dense_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/activation_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/embedding_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/last_step_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/input_skip_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers/affine_layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/dispatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/cpu_features.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_pack.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/quant_none.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_nt/gemm_nt_f32_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_f32_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_f32_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/vact/vact_f32_scalar.cpp
)
set(GRU_INFER_AVX2_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_nt/gemm_nt_f32_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_f32_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_f32_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/vact/vact_f32_avx2.cpp
)
set(GRU_INFER_AVX512_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_nt/gemm_nt_f32_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_f32_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_f32_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/vact/vact_f32_avx512.cpp
)
set(GRU_INFER_AMX_SOURCES)  # amx's fp32 kernels are AVX-512's
set(GRU_INFER_NEON_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_nt/gemm_nt_f32_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_f32_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_f32_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/vact/vact_f32_neon.cpp
)
set(GRU_INFER_QUANT_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/kernels/quant_pack.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/quant_dispatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_int8_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_bf16_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_fp16_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_int8_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_bf16_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_fp16_scalar.cpp
)
set(GRU_INFER_QUANT_AVX2_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_int8_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_bf16_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_fp16_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_int8_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_bf16_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_fp16_avx2.cpp
)
set(GRU_INFER_QUANT_AVX512_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_int8_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_bf16_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_fp16_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_int8_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_bf16_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_fp16_avx512.cpp
)
set(GRU_INFER_QUANT_AMX_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_int8_amx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_bf16_amx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_int8_amx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_bf16_amx.cpp
)
set(GRU_INFER_QUANT_NEON_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_int8_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_bf16_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_fp16_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gru_step/gru_step_int8_neondot.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_int8_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_bf16_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_fp16_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels/gemm_packed/gemm_packed_int8_neondot.cpp
)

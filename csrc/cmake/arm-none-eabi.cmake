# Bare-metal Cortex-M with Debian's arm-none-eabi-gcc and newlib (gcc-arm-none-eabi,
# libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib for the C++ headers): the micro runtime
# (csrc/micro) and its firmware. GRU_MICRO_CPU picks the core: cortex-m4 (default, FPv4 single
# precision) or cortex-m7 (FPv5).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)  # no start-up code to link a test program with

set(GRU_MICRO_CPU cortex-m4 CACHE STRING "Cortex-M core: cortex-m4 or cortex-m7")
if(GRU_MICRO_CPU STREQUAL "cortex-m7")
  set(_fpu fpv5-sp-d16)
else()
  set(_fpu fpv4-sp-d16)
endif()
set(CMAKE_C_FLAGS_INIT "-mcpu=${GRU_MICRO_CPU} -mthumb -mfloat-abi=hard -mfpu=${_fpu}")
set(CMAKE_CXX_FLAGS_INIT "${CMAKE_C_FLAGS_INIT}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nosys.specs")

"""The bytes that begin a Keras file, for the package's `sniff` and for `_reader` (which the package
imports, so it cannot import them from the package)."""

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # the first 8 bytes of every HDF5 file (.h5 and .weights.h5)

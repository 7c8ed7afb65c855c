"""Custom XLA operations (C++ through the XLA FFI): the oneDNN convolution for XLA:CPU."""

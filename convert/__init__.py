"""Quantization and lowering of trained models to edge runtimes."""

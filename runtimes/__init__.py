"""Backends, the shared sampling loop and backend selection."""

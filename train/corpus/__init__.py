"""Builds the sound-effects corpus from Debian packages."""

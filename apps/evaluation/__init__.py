"""Objective evaluation with a YAMNet judge."""

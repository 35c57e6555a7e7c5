"""Moved to t2a_edge.convert.judge (the converter's int8 quality check needs the judge, and the library
never imports apps/); the evaluation commands keep importing it from here."""

from t2a_edge.convert.judge import *  # noqa: F401,F403

"""The sampling settings of a generation and the defaults used when a model records none of its own."""

from __future__ import annotations

# Used when a model records no measured defaults of its own.
FALLBACK_DEFAULTS = {
    "student": {"steps": 8, "cfg": 3.0, "temperature": 0.7, "seconds": 5.0, "noise_correlation": 0.0, "anchors": 0,
                "spread": 1.0, "smooth": 0.0},
    "teacher": {"steps": 32, "cfg": 3.0, "temperature": 1.0, "seconds": 5.0, "teacher_steps": 50,
                "noise_correlation": 0.0, "anchors": 0, "spread": 1.0, "smooth": 0.0},
}

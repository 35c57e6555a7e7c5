"""t2a-edge: fast text-to-audio for laptops and phones."""

__version__ = "0.1.0"


def __getattr__(name):
    # Imported lazily so that `import t2a_edge` stays cheap and torch-free.
    if name in ("TextToAudio", "Audio"):
        from t2a_edge.runtimes import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["TextToAudio", "Audio", "__version__"]

"""The research lab: probes that measure the model, the codec and the runtimes (`t2a-edge lab ...`).

The product (core, runtimes, convert and the other apps) never imports this package; the CLI loads
it only when `t2a-edge lab` runs. Each probe module also runs as `python -m t2a_edge.apps.lab.<name>`.
"""

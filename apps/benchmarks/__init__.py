"""Stand-alone benchmark scripts: `python -m t2a_edge.apps.benchmarks.<name>`."""

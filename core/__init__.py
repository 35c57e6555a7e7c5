"""Model parts: configs, modules, schedules, audio I/O and bundle manifests."""

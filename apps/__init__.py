"""Command-line front-ends: generate, convert, bench, eval, train, data, info."""

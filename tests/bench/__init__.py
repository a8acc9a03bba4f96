"""Benchmarks: run with `make bench`, not collected by `make test`."""

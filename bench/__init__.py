"""Benchmarks, run by `make bench`; each prints figures against a baseline from the same run."""

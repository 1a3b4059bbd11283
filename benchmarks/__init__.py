"""Benchmarks that need services, a corpus or torch (``dancebooth bench api|ingest|render|
retention|train``). Run from a source checkout: the wheel does not ship them. The node's own
benchmarks stay installable in :mod:`edge.bench`."""

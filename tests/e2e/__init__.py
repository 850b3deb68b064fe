"""End-to-end tests: the sidecar as a subprocess (fixtures in ``conftest``, helpers in ``sidecar`` and the fakes)."""

"""Masker's tests: a package, so that shared helpers are imported by name (``tests.helpers``, ``tests.e2e.*``)."""

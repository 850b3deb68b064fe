"""Helpers shared by test modules (never tests themselves): import them as ``tests.helpers.NAME``."""

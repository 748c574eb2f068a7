"""Resolver functions and the per-request loaders they read through."""

"""Declarative plugins: a manifest's ``[pipeline]`` table (schema) run by the engine (run), no plugin code."""

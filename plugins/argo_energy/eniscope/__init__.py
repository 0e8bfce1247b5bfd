"""Eniscope Core API client: ``hook.EniscopeHook`` (I/O), ``parsing`` (pure), ``errors``, ``ratelimit``."""

"""Eniscope Core API client: ``hook.EniscopeHook`` (API), ``transport`` (HTTP, retries), ``config`` (connection), ``parsing`` (pure), ``errors``, ``ratelimit``."""

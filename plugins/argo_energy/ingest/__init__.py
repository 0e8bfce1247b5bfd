"""Ingestion: pure windows/validation/planning, and the operators that wire hook -> warehouse."""

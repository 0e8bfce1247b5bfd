"""Provider metadata: registers the ``eniscope`` connection type with Airflow."""

from __future__ import annotations


def get_provider_info() -> dict:
    return {
        "package-name": "argo-energy-airflow",
        "name": "Argo Energy (Eniscope)",
        "description": "Eniscope Core API hook of the Argo Energy data platform.",
        "versions": ["0.1.0"],
        "connection-types": [],
    }

"""Argo Energy data platform: Eniscope hook, pure transforms, warehouse and DAG helpers.

Lives under ``plugins/`` because Airflow puts that folder on ``sys.path`` in every component;
it is also installed (``pip install -e . --no-deps``) so the Eniscope connection type is registered.
"""

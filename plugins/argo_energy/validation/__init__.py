"""Data-quality checks of the ``eniscope_validation`` DAG.

``checks`` (registry, SQL reads, pure evaluation), ``operators`` (common-sql check operators that
record), ``tasks`` (what each DAG task does), ``store`` (results and heal-request tables),
``healing`` (self-heal plan), ``days`` (site-local days and their 92/96/100 slots), ``schema``
(expected objects), ``config`` (Params), ``results`` (``CheckResult``).
"""

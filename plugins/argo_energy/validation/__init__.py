"""Data-quality checks of the ``eniscope_validation`` DAG.

``checks`` (registry, SQL reads, pure evaluation), ``scope`` (the channels and site-local days in
scope, the windows the checks read), ``operators`` (common-sql check operators that record),
``tasks`` (what each DAG task does), ``dag_tasks`` (the DAG's task factories and wiring), ``store``
(results and heal-request tables), ``healing`` (self-heal plan), ``days`` (site-local days and
their 92/96/100 slots), ``schema`` (expected objects), ``config`` (Params), ``results``
(``CheckResult``). Names of connections, Variables and DAGs come from ``argo_energy.settings``.
"""

# Argo Energy Airflow image: the official slim Airflow 3.3.2 image (Python 3.11, the Python the
# locks are resolved for) plus exactly the runtime lock and our code.
# Build: docker build -t argo-energy-airflow:latest .   (docker compose builds it for you)
FROM apache/airflow:slim-3.3.2-python3.11

# requirements.lock is what the tests run against (make venv installs the same file): every package,
# transitive ones included, pinned and hash-checked. --require-hashes makes pip refuse anything
# unpinned, unhashed or tampered with; the lock pins apache-airflow==3.3.2, so Airflow cannot move.
COPY --chown=airflow:0 requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /opt/airflow/requirements.lock

# Project code. plugins/ is on Airflow's sys.path; the editable install also registers the
# `eniscope` connection type (provider entry point) and makes the simulator importable. --no-deps:
# every dependency came from the lock above.
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 eniscope_simulator/ /opt/airflow/eniscope_simulator/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
RUN pip install --no-cache-dir --no-deps -e /opt/airflow

ENV PYTHONPATH=/opt/airflow \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

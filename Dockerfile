# Argo Energy Airflow image: the official Airflow 3.3.2 image plus our requirements and code.
# Build: docker build -t argo-energy-airflow:latest .   (docker compose builds it for you)
FROM apache/airflow:3.3.2

# The image ships the constraints it was built with in ${HOME}/constraints.txt: installing
# against them keeps every transitive version the Airflow team tested, without reaching GitHub.
# Re-pinning apache-airflow in the same call makes pip fail rather than move Airflow.
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir \
      "apache-airflow==${AIRFLOW_VERSION}" \
      -r /opt/airflow/requirements.txt \
      --constraint "${HOME}/constraints.txt"

# Project code. plugins/ is on Airflow's sys.path; the editable install also registers the
# `eniscope` connection type (provider entry point) and makes the simulator importable.
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 eniscope_simulator/ /opt/airflow/eniscope_simulator/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
RUN pip install --no-cache-dir --no-deps -e /opt/airflow

ENV PYTHONPATH=/opt/airflow \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

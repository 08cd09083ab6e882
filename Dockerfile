FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system clinic
USER clinic
ENV CLINIC_CONFIG_DIR=/app/config
ENTRYPOINT ["clinic-worker"]

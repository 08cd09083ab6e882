# Build stage: the wheel, from the same files a fresh clone has. worker/bundled_config is a
# symlink to ../config, so config/ must sit beside worker/ for the build to ship it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY worker ./worker
RUN pip wheel --no-cache-dir --no-deps . -w /dist

# Runtime stage: the installed wheel only (no source tree), run as an unprivileged user.
FROM python:3.11-slim
COPY --from=build /dist /tmp/dist
RUN pip install --no-cache-dir /tmp/dist/*.whl && rm -rf /tmp/dist && useradd --system clinic
WORKDIR /app
# The clinic-editable configuration; compose mounts ./config over it.
COPY config ./config
ENV CLINIC_CONFIG_DIR=/app/config
USER clinic
ENTRYPOINT ["clinic-worker"]

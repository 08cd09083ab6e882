# Build stage: the wheel, from the same files a fresh clone has. worker/bundled_config is a
# symlink to ../config, so config/ must sit beside worker/ for the build to ship it.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY worker ./worker
RUN pip wheel --no-cache-dir --no-deps . -w /dist

# Runtime stage: the installed wheel only (no source tree), run as an unprivileged user.
# Python 3.11, as requirements.lock was made with (`./dev lock`).
FROM python:3.11-slim-bookworm
# The runtime dependencies exactly as locked, each file checked against its sha256: an image
# built next month gets the versions the tests ran against, or the build fails. Its own
# layer, so a code change does not reinstall them.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
# The project itself without resolving anything (--no-deps); `pip check` fails the build if
# the lock is missing a dependency the wheel declares.
COPY --from=build /dist /tmp/dist
RUN pip install --no-cache-dir --no-deps /tmp/dist/*.whl && pip check && rm -rf /tmp/dist \
    && useradd --system clinic
WORKDIR /app
# The clinic-editable configuration; compose mounts ./config over it.
COPY config ./config
ENV CLINIC_CONFIG_DIR=/app/config
USER clinic
ENTRYPOINT ["clinic-worker"]

# syntax=docker/dockerfile:1.7
# dancebooth cloud image: API, uploader, worker, migrations, broker-config — one image,
# the service is chosen by the command (docker-compose.yml, infra/k8s/).
#
# Build from the repository root:
#   docker build -f infra/docker/cloud.Dockerfile -t dancebooth-cloud .
#
# CUDA: PyTorch's CUDA wheels carry the CUDA runtime, cuDNN and NCCL as pip packages
# (nvidia-*-cu12), so the base needs no CUDA toolkit: only the host's NVIDIA driver,
# which the NVIDIA Container Toolkit mounts in when the container asks for a GPU
# (compose `deploy.resources.reservations.devices`, k8s `nvidia.com/gpu`). Without a
# GPU the same image trains on CPU (training.device: auto).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtualenv with torch (CUDA build) + the cloud extra ----------------------
FROM ${PYTHON_IMAGE} AS build
# torch is pinned to the version pyproject.toml pins (torch==2.13.0); the CUDA variant is
# chosen by the wheel index. cu128 wheels need an NVIDIA driver >= 570 on the host; for an
# older driver build with --build-arg TORCH_CUDA=cu126 (driver >= 560). The `+cu128` local
# version still satisfies pyproject's `torch==2.13.0`, so the next pip run keeps it.
ARG TORCH_VERSION=2.13.0
ARG TORCH_CUDA=cu128
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Its own layer: ~3 GB that only changes when the pin does.
RUN pip install --index-url "https://download.pytorch.org/whl/${TORCH_CUDA}" \
        "torch==${TORCH_VERSION}"

WORKDIR /opt/dancebooth
# The code finds models/manifest.json and reference_videos/ next to its packages
# (edge/pose/models.py, common/reference.py), so the image keeps the repository layout
# and installs it editable instead of copying the packages into site-packages.
COPY pyproject.toml README.md ./
COPY protocol ./protocol
COPY common ./common
COPY edge ./edge
COPY cloud ./cloud
COPY dancebooth ./dancebooth
COPY booth_ui ./booth_ui
COPY models ./models
COPY reference_videos ./reference_videos
RUN pip install -e ".[cloud]" \
    && python -c "import torch; assert torch.__version__.startswith('${TORCH_VERSION}'), torch.__version__"
# The Dances page runs `reference add`, which estimates poses with BlazePose: its models
# come out of the mediapipe wheel at build time (nothing is downloaded at run time).
ENV DANCEBOOTH_MODEL_DIR=/opt/dancebooth/model-cache
RUN dancebooth edge fetch-models --model-dir "${DANCEBOOTH_MODEL_DIR}"

# ---- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# libglib2.0-0: OpenCV (headless) still links it; tini: signals + zombie reaping so
# SIGTERM reaches the uploader/worker and they stop cleanly (leases, MQTT sessions).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 tini \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid so volumes and k8s securityContext (runAsUser) agree.
RUN groupadd --system --gid 10001 dancebooth \
    && useradd --system --uid 10001 --gid dancebooth --home-dir /srv/dancebooth \
        --shell /usr/sbin/nologin dancebooth \
    && mkdir -p /srv/dancebooth/var /srv/broker \
    && chown -R dancebooth:dancebooth /srv/dancebooth \
    # The broker-config one-shot writes Mosquitto's passwd/acl here as uid 1883 (the
    # eclipse-mosquitto image's `mosquitto` user), so the broker can read its 0600 files.
    && chown 1883:1883 /srv/broker
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/dancebooth /opt/dancebooth
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DANCEBOOTH_MODEL_DIR=/opt/dancebooth/model-cache \
    DANCEBOOTH_CLOUD_ENVIRONMENT=production
# Relative paths in the settings (var/...) land in the writable home.
WORKDIR /srv/dancebooth
USER dancebooth
EXPOSE 8000
# Only meaningful for `cloud api`; the other services disable it (docker-compose.yml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/login' % os.environ.get('DANCEBOOTH_CLOUD_API__PORT', '8000'), timeout=4)"
ENTRYPOINT ["tini", "--", "dancebooth"]
CMD ["cloud", "api", "--host", "0.0.0.0"]

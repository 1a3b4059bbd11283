# syntax=docker/dockerfile:1.7
# dancebooth edge image: one booth node (`dancebooth edge run`). No torch: the `edge`
# extra only (paho-mqtt, OpenCV headless, ai-edge-litert, PyAV, scipy, numba), all with
# wheels for arm64 (Coral Dev Board, Raspberry Pi 4/5) as well as amd64 (a laptop):
#   docker buildx build --platform linux/arm64,linux/amd64 -f infra/docker/edge.Dockerfile .
#
# Edge TPU (MoveNet/PoseNet with `device: edgetpu`): build with
#   --build-arg EDGETPU_RUNTIME=libedgetpu1-std    (or libedgetpu1-max: faster, runs hot)
# which installs Coral's runtime (libedgetpu.so.1) from Coral's apt repository, and run
# with the accelerator passed through:
#   Coral USB Accelerator:  --device /dev/bus/usb   (it re-enumerates from 1a6e:089a to
#                           18d1:9302 after the firmware load, so pass the bus, not one
#                           device node; the host needs Coral's udev rule or run the
#                           container with --group-add plugdev)
#   Coral Dev Board / M.2 / PCIe: --device /dev/apex_0  (the host needs the gasket/apex
#                           driver and a group that owns /dev/apex_0: --group-add apex)
#   USB camera:             --device /dev/video0 --group-add video
# The PyPI package named `pycoral` is unrelated to Coral: never install it. The runtime
# is loaded with ai-edge-litert's load_delegate("libedgetpu.so.1").

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /opt/dancebooth
# Repository layout kept (models/manifest.json and reference_videos/ are found next to
# the packages), installed editable.
COPY pyproject.toml README.md ./
COPY protocol ./protocol
COPY common ./common
COPY edge ./edge
COPY dancebooth ./dancebooth
COPY models ./models
COPY reference_videos ./reference_videos
RUN pip install -e ".[edge]" \
    && ! python -c "import torch" 2>/dev/null
# The BlazePose .tflite models come out of the mediapipe==0.10.21 wheel (Apache-2.0),
# sha256-checked against models/manifest.json, at build time: a node never downloads
# models at run time, and can boot without internet.
ENV DANCEBOOTH_MODEL_DIR=/opt/dancebooth/model-cache
RUN dancebooth edge fetch-models --model-dir "${DANCEBOOTH_MODEL_DIR}"

FROM ${PYTHON_IMAGE} AS runtime
ARG EDGETPU_RUNTIME=none
# libglib2.0-0 for OpenCV; libusb-1.0-0 for the Coral USB runtime; tini forwards SIGTERM
# so the node closes its capture and keeps its spool consistent.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libusb-1.0-0 tini \
        ca-certificates curl gnupg \
    && if [ "${EDGETPU_RUNTIME}" != "none" ]; then \
        curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg \
            | gpg --dearmor -o /usr/share/keyrings/coral-edgetpu.gpg \
        && echo "deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt coral-edgetpu-stable main" \
            > /etc/apt/sources.list.d/coral-edgetpu.list \
        && apt-get update \
        && apt-get install -y --no-install-recommends "${EDGETPU_RUNTIME}"; \
    fi \
    && apt-get purge -y curl gnupg && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 dancebooth \
    && useradd --system --uid 10001 --gid dancebooth --groups video,plugdev \
        --home-dir /srv/dancebooth --shell /usr/sbin/nologin dancebooth \
    && mkdir -p /srv/dancebooth/var \
    && chown -R dancebooth:dancebooth /srv/dancebooth
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/dancebooth /opt/dancebooth
# The compiled keypoint kernels (numba, edge/jit.py) are built on the node's first start,
# for its own CPU, and kept on the volume (the source tree is not writable at run time).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DANCEBOOTH_MODEL_DIR=/opt/dancebooth/model-cache \
    DANCEBOOTH_EDGE_SPOOL__PATH=/srv/dancebooth/var/edge-spool \
    NUMBA_CACHE_DIR=/srv/dancebooth/var/numba-cache
WORKDIR /srv/dancebooth
USER dancebooth
# The spool must survive a container restart: frames not yet acknowledged by the broker.
VOLUME ["/srv/dancebooth/var"]
ENTRYPOINT ["tini", "--", "dancebooth"]
CMD ["edge", "run"]

# syntax=docker/dockerfile:1.7
# dancebooth edge image: one booth node (`dancebooth edge run`). No torch: the `edge`
# extra only (paho-mqtt, OpenCV headless, ai-edge-litert, PyAV, scipy, numba), all with
# wheels for arm64 (Raspberry Pi 4/5) as well as amd64 (an x86 machine):
#   docker buildx build --platform linux/arm64,linux/amd64 -f infra/docker/edge.Dockerfile .
#
# Edge TPU (MoveNet/PoseNet with `device: edgetpu`, infra/edgetpu/README.md): build with
#   --build-arg EDGETPU=std    (or max: faster, the USB stick runs hot)
# which installs the supported pair, libedgetpu1-std 16.0tf2.17.1 + tflite-runtime 2.17.1
# (infra/edgetpu/install.sh, both built against TensorFlow 2.17.1; Coral's apt package is
# the TensorFlow-2.5 build and crashes in these interpreters), and Coral's model files
# (fetch-models --coral), and run with the accelerator passed through:
#   Coral USB Accelerator:  --device /dev/bus/usb   (it re-enumerates from 1a6e:089a to
#                           18d1:9302 after the firmware load, so pass the bus, not one
#                           device node; the host needs the udev rule from the same
#                           libedgetpu package, or run with --group-add plugdev)
#   Coral M.2 / PCIe:       --device /dev/apex_0  (the host needs the gasket/apex
#                           driver and a group that owns /dev/apex_0: --group-add apex)
#   USB camera:             --device /dev/video0 --group-add video
# Until infra/edgetpu/SHA256SUMS pins the two downloads, add
#   --build-arg EDGETPU_INSTALL_FLAGS=--trust-new   (the build log shows their sha256).
# The PyPI package named `pycoral` is unrelated to Coral: never install it.

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
ARG EDGETPU=none
ARG EDGETPU_INSTALL_FLAGS=
COPY infra/edgetpu ./infra/edgetpu
RUN if [ "${EDGETPU}" != "none" ]; then \
        apt-get update && apt-get install -y --no-install-recommends curl \
        && infra/edgetpu/install.sh python /opt/venv /opt/dancebooth ${EDGETPU_INSTALL_FLAGS} \
        && ! python -c "import torch" 2>/dev/null; \
    fi
# The BlazePose .tflite models come out of the mediapipe==0.10.21 wheel (Apache-2.0),
# sha256-checked against models/manifest.json, at build time: a node never downloads
# models at run time, and can boot without internet.
ENV DANCEBOOTH_MODEL_DIR=/opt/dancebooth/model-cache
RUN dancebooth edge fetch-models --model-dir "${DANCEBOOTH_MODEL_DIR}"
# Coral's PoseNet/MoveNet files and this CPU's posenet_decoder.so, pinned the same way.
RUN if [ "${EDGETPU}" != "none" ]; then \
        dancebooth edge fetch-models --coral --model-dir "${DANCEBOOTH_MODEL_DIR}"; \
    fi

FROM ${PYTHON_IMAGE} AS runtime
ARG EDGETPU=none
ARG EDGETPU_INSTALL_FLAGS=
COPY infra/edgetpu /tmp/edgetpu
# libglib2.0-0 for OpenCV; libusb-1.0-0 for the Coral USB runtime; tini forwards SIGTERM
# so the node closes its capture and keeps its spool consistent.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libusb-1.0-0 tini \
        ca-certificates curl \
    && if [ "${EDGETPU}" != "none" ]; then \
        EDGETPU_FLAVOUR="${EDGETPU}" /tmp/edgetpu/install.sh runtime ${EDGETPU_INSTALL_FLAGS}; \
    fi \
    && apt-get purge -y curl && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/* /tmp/edgetpu
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

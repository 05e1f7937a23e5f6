# One image for every platform process (api, collector, worker, beat); the command picks the role.
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY core core
COPY collectors collectors
COPY detection detection
COPY intel intel
COPY playbooks playbooks
COPY demo_world demo_world
COPY drills drills
COPY awareness awareness
COPY advisories advisories
COPY compliance compliance
COPY ldv ldv
COPY dashboard dashboard
COPY dijkwacht dijkwacht
RUN pip install --no-cache-dir -c constraints.txt . \
 && pip install --no-cache-dir --no-deps pyattck==7.1.2 pyattck-data==2.6.3 \
 && python -m detection.attack_data \
 && useradd --system --home /var/lib/dijkwacht dijkwacht \
 && mkdir -p /var/lib/dijkwacht && chown dijkwacht /var/lib/dijkwacht
USER dijkwacht
ENV DIJKWACHT_DATA_DIR=/var/lib/dijkwacht
CMD ["dijkwacht", "serve"]

# One image for every relay process; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md celeryconfig.py ./
COPY relay ./relay
COPY sync_worker ./sync_worker
COPY notifications ./notifications
RUN pip install --no-cache-dir . && useradd --system --uid 10001 relay
USER relay
CMD ["relay", "--help"]

# Support Desk for Mattermost: a slim, non-root image.
#   docker build -t supportbot .
#   docker run --env-file .env -p 8080:8080 supportbot
# Settings come from /etc/supportbot/bot.toml (mount your own over it to list [[customers]])
# and SUPPORTBOT_<SECTION>__<KEY> environment variables (see docs/configuration.md).

FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SUPPORTBOT_SERVER__HOST=0.0.0.0 \
    SUPPORTBOT_SERVER__PORT=8080 \
    SUPPORTBOT_DATABASE__URL=sqlite:////var/lib/supportbot/supportbot.db \
    SUPPORTBOT_LOGGING__FORMAT=json
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/supportbot --create-home supportbot \
    && mkdir -p /etc/supportbot && chown supportbot:supportbot /etc/supportbot
COPY --from=build /install /usr/local
COPY --chown=supportbot:supportbot --chmod=600 deploy/bot.docker.toml /etc/supportbot/bot.toml
USER supportbot
WORKDIR /var/lib/supportbot
VOLUME ["/var/lib/supportbot"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["supportbot"]
CMD ["run", "--config", "/etc/supportbot/bot.toml"]

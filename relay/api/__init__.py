"""The HTTP API (`relay serve`): one ASGI application over the same producer, store and
service functions the Python API and the CLI call. `create_app()` builds it."""

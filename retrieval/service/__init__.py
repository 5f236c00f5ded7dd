"""The HTTP service (FastAPI): search and documents on behalf of users, for API-keyed services.

``retrieval.service.app.create_app`` builds the app from injected parts; ``.keys`` holds the
hashed API keys; ``.server`` opens everything from settings and runs uvicorn; ``.cli`` wires the
``permindex serve`` and ``permindex keys`` commands. Nothing is imported here so that the CLI
starts without loading FastAPI.
"""

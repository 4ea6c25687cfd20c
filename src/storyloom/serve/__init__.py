"""Serve: the JSON API and the web UI over the same store and the same queries (:mod:`.views`)."""

from storyloom.serve.app import create_app

__all__ = ["create_app"]

"""Routers of the service, one per resource."""

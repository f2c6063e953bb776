"""The qet-geo web service (FastAPI): ``api.main.create_app`` builds it."""

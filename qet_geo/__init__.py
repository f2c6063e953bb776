"""qet-geo: geospatial analysis for the Quartiers en Transitions network."""

__version__ = "0.1.0"

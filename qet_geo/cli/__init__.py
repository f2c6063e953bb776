"""The ``qet`` command: one thin module per command group; :mod:`~qet_geo.cli.main` assembles them."""

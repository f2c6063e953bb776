from qet_geo.cli import run

run()

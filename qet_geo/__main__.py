from qet_geo.cli.main import run

run()

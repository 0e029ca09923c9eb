"""One module per `sightline` subcommand. Each defines ``register(subparsers)`` and keeps heavy imports
inside its handler, so that `sightline --help` and the headless commands never load Qt or VTK."""

"""``locograd.experiments``: reproducible experiments behind the ``locograd`` command's
sub-commands (each module defines ``add_arguments(parser)`` and ``run(args) -> int``)."""

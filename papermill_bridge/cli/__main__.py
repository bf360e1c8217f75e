"""``python -m papermill_bridge.cli``: the ``taskbook`` command."""

from papermill_bridge.cli import main

main()

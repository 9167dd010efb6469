"""``python -m docframe.cli``: the ``docframe`` command without its console script."""

from docframe.cli import app

app()

"""``python -m storyloom.cli``: the same command as the ``storyloom`` script."""

from storyloom.cli import main

main()

"""`python -m dijkwacht` runs the command line."""

from dijkwacht.cli import main

main()

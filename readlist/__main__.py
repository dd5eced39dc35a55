"""`python -m readlist` runs the command line."""

from readlist.cli import main

main()

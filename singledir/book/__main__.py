"""``python -m singledir.book``: build the book (see :mod:`singledir.book.cli`)."""
import sys

from .cli import main

sys.exit(main())

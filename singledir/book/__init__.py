"""The book floor: parameter files, executing chapters, their findings, staging and the command
line (``python -m singledir.book``, :mod:`singledir.book.cli`)."""

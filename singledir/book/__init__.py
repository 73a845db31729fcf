"""The book floor: parameter files, each chapter's source parsed once per process (``parsed``),
executing chapters, their findings, staging and the command line (``python -m singledir.book``,
:mod:`singledir.book.cli`)."""

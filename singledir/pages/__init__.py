"""Pages: what writes the book (figures and their glue, markdown tables, the scorecard, the verdict
grid and forest plot, the ledger view). The only floor below the build that knows the renderer."""

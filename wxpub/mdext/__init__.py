"""Python-Markdown extensions, one module per feature, each usable on its own."""

"""The render wing: datasets, host reports and the rest as text, Markdown and JSON for the CLI.

Rich is allowed here, textual never.
"""

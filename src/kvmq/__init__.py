"""kvmq: compare virtualization building blocks from a YAML dataset, in a terminal."""

__version__ = "0.1.0"

"""The interactive explorer (Textual). Only imported when the explorer starts."""

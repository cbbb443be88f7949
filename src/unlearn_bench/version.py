"""The package's version, read by the record without importing the package (which registers the resolvers)."""

__version__ = "0.1.0"

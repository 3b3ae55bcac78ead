"""Regional industrial-economy statistics: provenance-kept data, derived metrics and reports."""

__version__ = "0.1.0"

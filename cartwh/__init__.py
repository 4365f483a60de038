"""cartwh: a clinical data warehouse for multicentre CAR-T outcome studies."""

__version__ = "0.1.0"

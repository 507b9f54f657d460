"""STARK: spatio-temporal transformer tracking (Yan et al., ICCV 2021), reimplemented."""

__version__ = "0.1.0"

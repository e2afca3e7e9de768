"""Tests of the sbx Python client against a real sbxd (see conftest.py)."""

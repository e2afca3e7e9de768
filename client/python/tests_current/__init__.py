"""Tests of SbxWorkspace against pydantic-ai 2.6x and pydantic-ai-backend 0.2.3x (the `pydantic-ai-current` extra)."""
